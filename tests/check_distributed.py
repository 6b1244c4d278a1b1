#!/usr/bin/env python3
"""Data-parallel training over c10d (Gloo) on this machine, as a user launches it.

Equivalence: 2 ranks with B prompts each (launched by `precept train --nproc 2` and by
`torchrun --nproc-per-node 2 --no-python precept train`) give the same parameters after K steps
as 1 rank with 2B prompts, with ZeRO-1 off and on; the tolerance is 1e-5 (seen: bit-identical,
since each rank's micro-batches are the single rank's micro-batches and a 2-term sum does not
depend on its order).
Checkpoints: a 2-rank ZeRO-1 checkpoint resumes in a 1-rank run and loads in transformers.
Faults: a rank that throws, dies, hangs or hits a NaN makes every rank stop within the timeout
with an error naming the rank at fault; a NaN leaves no checkpoint of that step; a bad
MASTER_ADDR or MASTER_PORT is a clear error.
Memory: optimizer state per rank with ZeRO-1 on and off, for the demo policy (qwen3-demo).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
import transformers
from safetensors.torch import load_file

parser = argparse.ArgumentParser()
parser.add_argument("--precept", required=True)
parser.add_argument("--shared", required=True)
parser.add_argument("--fixtures")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
# The fault-injection build of the command line (tests/support/fault_hooks.cpp), beside precept.
fault_binary = os.path.join(os.path.dirname(os.path.abspath(args.precept)), "precept_fault")
failures = 0


def check(condition, message):
    global failures
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    failures += 0 if condition else 1


def run(command, env=None, timeout=300):
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    environment.pop("WORLD_SIZE", None)
    environment.pop("RANK", None)
    environment.update(env or {})
    start = time.time()
    result = subprocess.run(command, capture_output=True, text=True, cwd=root, env=environment, timeout=timeout)
    result.seconds = time.time() - start
    return result


def weights(run_dir, step):
    return load_file(os.path.join(run_dir, "checkpoints", f"step-{step:08d}", "model", "model.safetensors"))


def max_diff(a, b):
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


with tempfile.TemporaryDirectory() as work:
    assets = os.path.join(args.shared, "assets/stories260K")
    model = os.path.join(work, "stories260K")
    run([args.precept, "convert", "--checkpoint", os.path.join(assets, "stories260K.bin"),
         "--tokenizer", os.path.join(assets, "tok512.bin"), "--out", model])
    base = ["train", "recipes/demo_rule.toml", "--set", f"policy.model={model}", "--set", "run.steps=3",
            "--set", "run.threads=1", "--set", "algorithm.micro_batch_size=32", "--set", "checkpoint.every=1",
            "--set", "distributed.timeout_seconds=20", "--set", "logging.samples_every=0"]

    def train(name, extra=(), launcher=(), env=None, timeout=300, binary=None):
        out = os.path.join(work, name)
        command = list(launcher) + [binary or args.precept] + base + ["--set", f"run.output_dir={out}"] + list(extra)
        return out, run(command, env=env, timeout=timeout)

    # ---- equivalence -------------------------------------------------------------------------
    one, result = train("one")
    check(result.returncode == 0, "1 rank, 8 prompts per step: 3 steps")
    reference = weights(one, 3)
    start = load_file(os.path.join(model, "model.safetensors"))
    check(max_diff(reference, start) > 1e-4, "training moved the weights (the comparison means something)")
    cases = [("nproc", ["--nproc", "2"], [], "precept train --nproc 2"),
             ("nproc-zero1", ["--nproc", "2", "--set", "distributed.zero1=true"], [], "precept train --nproc 2, ZeRO-1"),
             ("torchrun", [], [torchrun, "--nproc-per-node", "2", "--no-python"],
              "torchrun --nproc-per-node 2 --no-python precept train")]
    for name, extra, launcher, label in cases:
        out, result = train(name, extra, launcher)
        if result.returncode != 0:
            print(result.stderr[-2000:])
        ok = result.returncode == 0
        difference = max_diff(reference, weights(out, 3)) if ok else float("inf")
        check(ok and difference <= 1e-5, f"{label}: 2 ranks x 4 prompts == 1 rank x 8 prompts after 3 steps "
                                         f"(max |diff| = {difference:.3g}, tolerance 1e-5)")
        if name == "torchrun":
            print("---- torchrun transcript ----\n" + result.stderr.strip() + "\n----")

    # ---- checkpoints of a 2-rank ZeRO-1 run: resume on 1 rank, load in transformers ----------
    zero = os.path.join(work, "nproc-zero1")
    resumed = os.path.join(work, "resumed")
    shutil.copytree(zero, resumed)
    result = run([args.precept] + base + ["--set", f"run.output_dir={resumed}", "--set", "run.steps=4", "--resume"])
    check(result.returncode == 0 and "resumed at step 3" in result.stderr,
          "a 2-rank ZeRO-1 checkpoint resumes in a 1-rank run (step 4 trained)")
    # The resumed step equals an uninterrupted 1-rank run's step 4 (2 ranks equal 1 above).
    straight, result = train("straight-4", ["--set", "run.steps=4"])
    difference = max_diff(weights(straight, 4), weights(resumed, 4)) if result.returncode == 0 else float("inf")
    check(difference <= 1e-5, f"ZeRO-1 on 2 ranks, resumed on 1 for step 4 == 4 straight steps on 1 rank "
                              f"(max |diff| {difference:.3g}, tolerance 1e-5)")
    hf = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.join(zero, "checkpoints", "step-00000003", "model"), dtype=torch.float32)
    ours = weights(zero, 3)
    hf_state = hf.state_dict()
    missing = [k for k in ours if k not in hf_state]
    check(len(ours) > 0 and not missing and all(torch.equal(hf_state[k], ours[k]) for k in ours),
          f"the 2-rank checkpoint loads in transformers with the same {len(ours)} tensors (names transformers lacks: {missing[:3]})")

    # ---- ZeRO-1 with bf16 parameters: fp32 masters sharded over the ranks --------------------
    # The bf16 weights of 2 ranks with ZeRO-1 equal 1 rank's, and a resume on 1 rank continues
    # from the checkpointed fp32 masters to the same bf16 weights.
    bf16 = ["--set", "policy.dtype=bfloat16"]
    one_bf16, result = train("one-bf16", bf16 + ["--set", "run.steps=4"])
    check(result.returncode == 0, "1 rank, bf16: 4 steps")
    zero_bf16, result = train("nproc-zero1-bf16", bf16 + ["--nproc", "2", "--set", "distributed.zero1=true"])
    if result.returncode != 0:
        print(result.stderr[-2000:])
    ours = weights(zero_bf16, 3) if result.returncode == 0 else {}
    theirs = weights(one_bf16, 3) if os.path.isdir(os.path.join(one_bf16, "checkpoints", "step-00000003")) else {}
    dtypes = {t.dtype for t in ours.values()}
    difference = max_diff(theirs, ours) if ours and theirs else float("inf")
    check(dtypes == {torch.bfloat16} and difference == 0,
          f"ZeRO-1, bf16, 2 ranks x 4 prompts == 1 rank x 8 prompts after 3 steps (dtypes {sorted(map(str, dtypes))}, "
          f"max |diff| = {difference:.3g}, tolerance 0)")
    moved = max_diff(ours, {k: v.to(torch.bfloat16) for k, v in start.items()}) if ours else 0.0
    check(moved > 0, f"bf16 training moved the weights (max |diff| from the start {moved:.3g})")
    resumed_bf16 = os.path.join(work, "resumed-bf16")
    shutil.copytree(zero_bf16, resumed_bf16)
    result = run([args.precept] + base + bf16 + ["--set", f"run.output_dir={resumed_bf16}", "--set", "run.steps=4",
                                                 "--resume"])
    difference = max_diff(weights(one_bf16, 4), weights(resumed_bf16, 4)) if result.returncode == 0 else float("inf")
    check(difference == 0, f"ZeRO-1 bf16 on 2 ranks, resumed on 1 for step 4 == 4 straight bf16 steps on 1 rank "
                           f"(max |diff| {difference:.3g}, tolerance 0)")

    # ---- faults --------------------------------------------------------------------------------
    for kind, expect, label in [("throw@1:2", "Cause: rank 1: injected fault", "a rank that throws"),
                                ("exit@1:2", "Rank(s) 1 stopped: no heartbeat", "a rank that dies"),
                                ("nan@1:2", "not finite on 1 micro-batch(es) of rank(s) 1", "a NaN on rank 1"),
                                ("hang@1:2", "Rank(s) 1 did not reach this collective within the timeout",
                                 "a rank that hangs")]:
        out, result = train("fault-" + kind.split("@")[0], ["--nproc", "2", "--set", "distributed.timeout_seconds=8"],
                            env={"PRECEPT_FAULT": kind}, timeout=240, binary=fault_binary)
        rank0 = [line for line in result.stderr.splitlines() if "error on rank 0" in line]
        check(result.returncode != 0 and rank0 and expect in rank0[0],
              f"{label}: rank 0 stops with an error naming rank 1 ({result.seconds:.0f} s): "
              f"{rank0[0][:160] if rank0 else result.stderr[-300:]}")
        if kind.startswith("nan"):
            check(os.path.isdir(os.path.join(out, "checkpoints", "step-00000001")) and
                  not os.path.isdir(os.path.join(out, "checkpoints", "step-00000002")),
                  "the NaN step wrote no checkpoint; step 1's is intact")
    for env, expect, label in [({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"},
                                "cannot reach the rendezvous store at 127.0.0.1:1", "nothing listening at MASTER_PORT"),
                               ({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "no-such-host.invalid",
                                 "MASTER_PORT": "29555"}, "no-such-host.invalid:29555", "a MASTER_ADDR that does not resolve"),
                               ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_PORT": "99999"},
                                "MASTER_PORT=99999 is not a TCP port", "a MASTER_PORT out of range"),
                               ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK=2 is outside", "a RANK outside the world")]:
        result = run([args.precept] + base + ["--set", f"run.output_dir={work}/bad", "--set",
                                              "distributed.timeout_seconds=4"], env=env, timeout=120)
        check(result.returncode != 0 and expect in result.stderr,
              f"{label}: a clear error in {result.seconds:.0f} s ({result.stderr.strip().splitlines()[-1][:150]})")

    # ---- memory per rank, the demo policy ------------------------------------------------------
    qwen = os.path.join(args.shared, "assets/qwen-tokenizer")
    policy = os.path.join(work, "policy")
    run([args.precept, "init-model", "--preset", "qwen3-demo", "--tokenizer", qwen, "--tokenizer-config",
         os.path.join(qwen, "tokenizer_config.qwen3.json"), "--out", policy])
    rows = []
    for zero1 in ("false", "true"):
        out = os.path.join(work, f"memory-{zero1}")
        result = run([args.precept, "train", "recipes/demo_rule.toml", "--nproc", "2", "--set", f"policy.model={policy}",
                      "--set", "data.prompts=recipes/data/demo_prompts.jsonl", "--set", "data.chat=true",
                      "--set", "rollout.max_new_tokens=8", "--set", "rollout.prompts_per_step=2", "--set", "rollout.group_size=2",
                      "--set", "run.steps=1", "--set", f"run.output_dir={out}", "--set", f"distributed.zero1={zero1}",
                      "--set", "checkpoint.save_final=false"])
        record = json.loads(open(os.path.join(out, "metrics.jsonl")).readline()) if result.returncode == 0 else {}
        rows.append((zero1, record.get("memory/optimizer_state_gib", float("nan")), record.get("memory/peak_rss_gib", float("nan"))))
    # memory/optimizer_state_gib is measured: the bytes of the exp_avg and exp_avg_sq tensors the
    # rank holds after the step (its shard under ZeRO-1). Peak RSS is printed, not compared: on this
    # small model ZeRO-1's flat buffers outweigh the state it saves.
    check(rows[1][1] * 2 <= rows[0][1] * 1.01 and rows[1][1] > 0,
          f"ZeRO-1 halves the AdamW tensors a rank holds at 2 ranks ({rows[1][1] * 1024:.1f} vs {rows[0][1] * 1024:.1f} MiB)")
    print("\n| qwen3-demo (20.2M params), 2 ranks | AdamW state per rank | peak RSS of rank 0 |")
    print("| --- | ---: | ---: |")
    for zero1, state, rss in rows:
        print(f"| ZeRO-1 {'on' if zero1 == 'true' else 'off'} | {state * 1024:.1f} MiB | {rss * 1024:.0f} MiB |")

print(f"\n{failures} failure(s)")
sys.exit(1 if failures else 0)
