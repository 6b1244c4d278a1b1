#!/usr/bin/env python3
"""The judge: SmolLM2-135M-Instruct as a RewardAnything-format judge, precept against transformers
`generate` making the same calls, in the same run.

Eight groups of four responses: the first eight AlpacaEval listwise cases (`precept data convert
--from alpacaeval-listwise`, each with its stated principle), their first four responses cut to
64 tokens. precept renders every call with its own RewardAnything prompt (`precept judge
--print-calls`); transformers generates from exactly those token ids, all calls in one left-padded
batch, with the same sampling and the same cap on new tokens, stopping at the chat template's
end-of-turn token. Two settings: greedy (both sides then write nearly the same judgments, so the
work is the same) and upstream's judge defaults (temperature 0.1, top-p 0.9, top-k off).

Reported per setting: groups/s and generated tokens/s of each side (model loading excluded on
both), the ratio, each side's generated tokens (they differ a little when sampling), how many of
precept's judgments parse, and each side's peak RSS (VmHWM of its own process). Run after
scripts/build.sh:

    .venv/bin/python bench/judge_bench.py [--threads 2] [--groups 8] [--responses 4] [--max-new-tokens 192]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_bench  # noqa: E402  (SmolLM2's folder, peak RSS)

SETTINGS = {"greedy": dict(temperature=0.0, top_p=1.0), "upstream": dict(temperature=0.1, top_p=0.9)}


def make_groups(build, shared, model_dir, scratch, groups, responses, response_tokens):
    import transformers
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    cases_path = os.path.join(scratch, "cases.jsonl")
    subprocess.run([os.path.join(build, "precept"), "data", "convert", "--from", "alpacaeval-listwise",
                    os.path.join(shared, "datasets", "alpacaeval", "listwise_gpt4turbo_judged_12gen.jsonl"),
                    "-o", cases_path], check=True, capture_output=True)
    out = []
    with open(cases_path) as handle:
        for line in handle:
            case = json.loads(line)
            names = list(case["responses"])[:responses]
            if len(names) < responses:
                continue
            cut = {}
            for name in names:
                ids = tokenizer(case["responses"][name], add_special_tokens=False)["input_ids"][:response_tokens]
                cut[name] = tokenizer.decode(ids)
            out.append({"prompt": case["prompt"], "responses": cut, "principle": case["principle"]})
            if len(out) == groups:
                break
    path = os.path.join(scratch, "groups.jsonl")
    with open(path, "w") as handle:
        handle.writelines(json.dumps(group) + "\n" for group in out)
    return path


def judge_flags(setting, max_new_tokens, threads):
    values = SETTINGS[setting]
    return ["-t", str(values["temperature"]), "-p", str(values["top_p"]), "--top-k", "0", "-n", str(max_new_tokens),
            "--retries", "0", "--seed", "1"]


def hf_worker(model_dir, calls_path, setting, max_new_tokens, threads):
    """transformers generate over the calls' token ids in this process; prints one JSON line."""
    import torch
    import transformers
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    with open(calls_path) as handle:
        calls = [json.loads(line) for line in handle]
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompts = [tokenizer(call["prompt"], add_special_tokens=False)["input_ids"] for call in calls]
    longest = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(prompts), longest), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):  # left padding, as generate expects
        ids[row, longest - len(prompt):] = torch.tensor(prompt)
        mask[row, longest - len(prompt):] = 1
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    values = SETTINGS[setting]
    sampled = values["temperature"] > 0
    config = transformers.GenerationConfig(do_sample=sampled, temperature=values["temperature"] if sampled else None,
                                           top_p=values["top_p"] if sampled else None, top_k=0 if sampled else None,
                                           max_new_tokens=max_new_tokens, eos_token_id=end, pad_token_id=pad)
    with torch.inference_mode():
        start = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        seconds = time.perf_counter() - start
    generated = 0
    for row in out[:, longest:].tolist():
        generated += row.index(end) + 1 if end in row else len(row)
    print(json.dumps({"seconds": seconds, "generated_tokens": generated, "calls": len(calls),
                      "prompt_tokens": sum(len(p) for p in prompts), "peak_rss_bytes": generate_bench.peak_rss_bytes()}))


SUMMARY = re.compile(r"scoring ([0-9.e+-]+) s, peak RSS ([0-9.e+-]+) GiB")


def run_precept(build, model_dir, groups_path, scratch, setting, max_new_tokens, threads, slots):
    out_path = os.path.join(scratch, f"judged-{setting}.jsonl")
    command = [os.path.join(build, "precept"), "judge", "--model", model_dir, "--batch", groups_path, "-o", out_path,
               "--slots", str(slots), *judge_flags(setting, max_new_tokens, threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"precept judge failed:\n{result.stderr[-4000:]}")
    found = SUMMARY.search(result.stderr)
    if not found:
        sys.exit(f"precept judge printed no summary line:\n{result.stderr[-2000:]}")
    generated, calls, parsed = 0, 0, 0
    with open(out_path) as handle:
        for line in handle:
            for call in json.loads(line)["calls"]:
                generated += call["generated_tokens"]
                calls += 1
                parsed += bool(call["ok"])
    return {"seconds": float(found.group(1)), "peak_rss_bytes": float(found.group(2)) * 2 ** 30,
            "generated_tokens": generated, "calls": calls, "parsed": parsed}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--responses", type=int, default=4)
    parser.add_argument("--response-tokens", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--settings", default="greedy,upstream")
    parser.add_argument("--worker", nargs=3, metavar=("MODEL_DIR", "CALLS", "SETTING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        hf_worker(*args.worker, args.max_new_tokens, args.threads)
        return 0
    import torch
    import transformers

    model_dir = generate_bench.SMOLLM2
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        subprocess.run([os.path.join(ROOT, "scripts", "models.sh"), "smollm2"], check=True,
                       env=dict(os.environ, PRECEPT_BUILD_DIR=args.build))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        groups_path = make_groups(args.build, args.shared, model_dir, scratch, args.groups, args.responses,
                                  args.response_tokens)
        for setting in args.settings.split(","):
            calls_path = os.path.join(scratch, f"calls-{setting}.jsonl")
            with open(calls_path, "w") as handle:
                subprocess.run([os.path.join(args.build, "precept"), "judge", "--model", model_dir, "--batch", groups_path,
                                "--print-calls", *judge_flags(setting, args.max_new_tokens, args.threads)],
                               check=True, stdout=handle)
            result = subprocess.run([sys.executable, os.path.abspath(__file__), "--threads", str(args.threads),
                                     "--max-new-tokens", str(args.max_new_tokens), "--worker", model_dir, calls_path,
                                     setting], capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"the transformers side failed:\n{result.stderr[-4000:]}")
            hf = json.loads(result.stdout.strip().splitlines()[-1])
            ours = run_precept(args.build, model_dir, groups_path, scratch, setting, args.max_new_tokens, args.threads,
                               hf["calls"])
            rows.append((setting, hf, ours))

    print(f"\nThe judge: SmolLM2-135M-Instruct (fp32) in the RewardAnything format, {args.groups} groups x "
          f"{args.responses} responses of <= {args.response_tokens} tokens, {rows[0][1]['prompt_tokens'] / rows[0][1]['calls']:.0f} "
          f"prompt tokens per call on average, up to {args.max_new_tokens} new tokens, {args.threads} threads, "
          f"torch {torch.__version__}, transformers {transformers.__version__}; model loading excluded\n")
    print("| sampling | transformers (groups/s) | precept (groups/s) | ratio | generated tokens: transformers, precept | "
          "tokens/s: transformers, precept | tokens/s ratio | precept's judgments parsed | peak RSS: transformers, precept |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for setting, hf, ours in rows:
        hf_rate, our_rate = args.groups / hf["seconds"], args.groups / ours["seconds"]
        hf_tokens, our_tokens = hf["generated_tokens"] / hf["seconds"], ours["generated_tokens"] / ours["seconds"]
        label = "greedy" if setting == "greedy" else "t 0.1, top-p 0.9"
        print(f"| {label} | {hf_rate:.3f} | {our_rate:.3f} | {our_rate / hf_rate:.2f}x | {hf['generated_tokens']}, "
              f"{ours['generated_tokens']} | {hf_tokens:.1f}, {our_tokens:.1f} | {our_tokens / hf_tokens:.2f}x | "
              f"{ours['parsed']}/{ours['calls']} | {hf['peak_rss_bytes'] / 2**20:.0f} MiB, "
              f"{ours['peak_rss_bytes'] / 2**20:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
