#!/usr/bin/env python3
"""Kill-and-resume soak (issue 20): `precept train` is killed with SIGKILL again and again and
resumed with --resume each time, on 1 rank and on 2 ranks, and must end exactly where an
uninterrupted run ends.

Kills, drawn from a seeded schedule:
  - from outside, `kill -9` at a random moment of the run (loading, rollout, update or writing);
  - injected by the test-only precept_fault binary (tests/support/fault_hooks.cpp), so that each
    phase is certainly hit: at the start of a step's rollout (kill), in the update at the first
    micro-batch loss (kill-update), and inside a checkpoint write after each of its stages
    (kill-checkpoint-{model,optimizer,state,moved,latest});
  - on 2 ranks, one rank is killed (from outside or injected on rank 1); the other must stop.

After every kill:
  - the latest checkpoint (the `latest` pointer, else the newest complete folder) loads: its
    trainer_state.json parses and every tensor of its safetensors files reads;
  - its step never goes back (no checkpoint is lost);
  - the next run starts (a leftover temporary folder would break it).
At the end:
  - no temporary checkpoint folder is left;
  - metrics.jsonl and the TensorBoard events hold every step exactly once;
  - the final weights and AdamW state equal an uninterrupted run's, bit for bit (CPU, fp32).

  check_kill_resume.py --precept build/precept --shared ../shared [--kills 12] [--rank-kills 4]

CI runs the defaults; docs/testing.md gives a run with --kills 30 --rank-kills 10.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from safetensors import safe_open
from tensorboard.backend.event_processing import event_accumulator

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--precept", required=True)
parser.add_argument("--shared", required=True)
parser.add_argument("--fixtures")
parser.add_argument("--kills", type=int, default=12, help="kills of the 1-rank run")
parser.add_argument("--rank-kills", type=int, default=4, help="kills of one rank of the 2-rank run")
parser.add_argument("--steps", type=int, help="steps of each run (default: 2 x kills + 4)")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fault_binary = os.path.join(os.path.dirname(os.path.abspath(args.precept)), "precept_fault")
steps = args.steps or 2 * max(args.kills, args.rank_kills) + 4
STAGES = ["model", "optimizer", "state", "moved", "latest"]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def environment(fault=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name in ("WORLD_SIZE", "RANK", "PRECEPT_FAULT"):
        env.pop(name, None)
    if fault:
        env["PRECEPT_FAULT"] = fault
    return env


def latest_checkpoint(run_dir):
    """(step, folder) of the checkpoint a resume loads, by the rule of trainer/checkpoint.cpp."""
    folder = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(folder):
        return None
    pointer = os.path.join(folder, "latest")
    if os.path.exists(pointer):
        name = open(pointer).read().strip()
        if name and os.path.exists(os.path.join(folder, name, "trainer_state.json")):
            return int(name.split("-")[1]), os.path.join(folder, name)
    folders = sorted(n for n in os.listdir(folder) if n.startswith("step-"))
    for name in reversed(folders):
        if os.path.exists(os.path.join(folder, name, "trainer_state.json")):
            return int(name.split("-")[1]), os.path.join(folder, name)
    return None


def load_all(checkpoint):
    """Reads the whole checkpoint; returns {file/tensor: tensor}. Raises on anything broken."""
    state = json.load(open(os.path.join(checkpoint, "trainer_state.json")))
    tensors = {}
    for relative in ("model/model.safetensors", "optimizer.safetensors"):
        with safe_open(os.path.join(checkpoint, relative), "pt") as f:
            for key in f.keys():
                tensors[f"{relative}/{key}"] = f.get_tensor(key)
    return state, tensors


def temporaries(run_dir):
    folder = os.path.join(run_dir, "checkpoints")
    return [n for n in os.listdir(folder) if n.startswith(".")] if os.path.isdir(folder) else []


def descendants(pid):
    """Every process below pid (the ranks a --nproc launcher started), from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


with tempfile.TemporaryDirectory(prefix="precept_kill_resume_") as work:
    assets = os.path.join(args.shared, "assets/stories260K")
    model = os.path.join(work, "stories260K")
    subprocess.run([args.precept, "convert", "--checkpoint", os.path.join(assets, "stories260K.bin"), "--tokenizer",
                    os.path.join(assets, "tok512.bin"), "--out", model], check=True, capture_output=True)
    base = ["train", "recipes/demo_rule.toml", "--set", f"policy.model={model}", "--set", f"run.steps={steps}",
            "--set", "run.threads=1", "--set", "algorithm.micro_batch_size=16", "--set", "checkpoint.every=1",
            "--set", "checkpoint.keep_last=2", "--set", "distributed.timeout_seconds=10",
            "--set", "logging.samples_every=0", "--set", "logging.tensorboard=true"]

    def command(binary, out, nproc, resume):
        extra = ["--set", f"run.output_dir={out}"] + (["--nproc", "2"] if nproc == 2 else []) + (["--resume"] if resume else [])
        return [binary] + base + extra

    # The uninterrupted runs, 1 and 2 ranks (4 and 2 micro-batches per rank: the gradient sums
    # differ in order, so each soak is compared with its own world size).
    references, references_seconds = {}, {}
    for nproc in (1, 2):
        straight = os.path.join(work, f"straight-{nproc}")
        start = time.time()
        result = subprocess.run(command(args.precept, straight, nproc, False), cwd=root, env=environment(),
                                capture_output=True, text=True)
        references_seconds[nproc] = time.time() - start
        check(result.returncode == 0, f"the uninterrupted run on {nproc} rank(s): {steps} steps in "
                                      f"{time.time() - start:.1f} s")
        if result.returncode != 0:
            print(result.stderr[-3000:])
            sys.exit(1)
        references[nproc] = load_all(latest_checkpoint(straight)[1])[1]
    rng = random.Random(args.seed)
    # A kill from outside comes within the first few steps of a run, so that runs get killed
    # rather than finish (the start-up, model loading included, is about 1.5 s here).
    startup_seconds = 1.5
    step_seconds = max(0.05, (references_seconds[1] - startup_seconds) / steps)

    def soak(name, nproc, kills):
        out = os.path.join(work, name)
        # Each injected kind at least once (in a random order), then a random mix with kills from
        # outside, until `kills` runs were killed; then one run to the end.
        kinds = ["kill", "kill-update"] + [f"kill-checkpoint-{s}" for s in STAGES] if nproc == 1 else \
            ["kill", "kill-update", "kill-checkpoint-state", "kill-checkpoint-moved"]
        first = rng.sample(kinds, len(kinds))
        counts, resumes, last_step, broken, attempt = {}, 0, 0, [], 0
        print(f"\n{name}: {kills} kills on {nproc} rank(s)", flush=True)
        while True:
            found = latest_checkpoint(out)
            resume = found is not None
            next_step = (found[0] if found else 0) + 1
            finish = sum(counts.values()) >= kills
            if not finish and next_step > steps:
                broken.append(f"the run reached its last step after {sum(counts.values())} kills: raise --steps")
                break
            kind = "finish" if finish else first[attempt] if attempt < len(first) else \
                rng.choice(kinds + ["external"] * len(kinds))
            attempt += 1
            fault = None
            if kind not in ("finish", "external"):
                # Rank 0 writes checkpoints; the other kills land on rank 1 when there are 2.
                rank = 1 if nproc == 2 and not kind.startswith("kill-checkpoint") else 0
                fault = f"{kind}@{rank}:{min(steps, next_step + rng.randrange(0, 2))}"
            started = time.time()
            process = subprocess.Popen(command(fault_binary, out, nproc, resume), cwd=root, env=environment(fault),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            resumes += resume
            victim, ranks = None, []
            if kind == "external":
                try:
                    process.wait(timeout=rng.uniform(0.3, startup_seconds + 3 * step_seconds))
                except subprocess.TimeoutExpired:
                    ranks = descendants(process.pid)
                    # 2 ranks: one rank, or now and then the launcher (its ranks must die with it).
                    victim = rng.choice(ranks + [process.pid]) if nproc == 2 and ranks else process.pid
                    os.kill(victim, signal.SIGKILL)
            try:
                _, stderr = process.communicate(timeout=180)
            except subprocess.TimeoutExpired:
                for pid in descendants(process.pid) + [process.pid]:
                    os.kill(pid, signal.SIGKILL)
                _, stderr = process.communicate()
                broken.append(f"{kind}: the run did not stop within 180 s after a kill")
            # No rank outlives its run (an orphan would train on beside the next run).
            deadline = time.time() + 20
            while any(os.path.exists(f"/proc/{pid}") for pid in ranks) and time.time() < deadline:
                time.sleep(0.1)
            orphans = [pid for pid in ranks if os.path.exists(f"/proc/{pid}")]
            if orphans:
                broken.append(f"{kind}: ranks {orphans} outlived their launcher")
                for pid in orphans:
                    os.kill(pid, signal.SIGKILL)
            seconds = time.time() - started
            code = process.returncode
            if kind == "finish":
                if code != 0:
                    broken.append(f"the final run failed (exit {code}): {stderr[-800:]}")
                break
            target = "" if victim is None or nproc == 1 else " (the launcher)" if victim == process.pid else " (a rank)"
            label = fault or f"external after {seconds:.1f} s{target}"
            if code == 0:
                # The run got to its end before the kill came: not a kill; the soak goes on.
                print(f"  {label}: the run ended first", flush=True)
                broken.append(f"{label}: the run ended before the kill: raise --steps")
                break
            if nproc == 1 and code != -signal.SIGKILL:
                # One rank: only the kill may stop it; anything else (a resume that failed) is a finding.
                broken.append(f"{label}: exit {code}, not SIGKILL: {stderr[-400:]}")
            counts[kind] = counts.get(kind, 0) + 1
            found = latest_checkpoint(out)
            if found:
                try:
                    state, _ = load_all(found[1])
                    if state.get("step") != found[0]:
                        broken.append(f"{label}: {found[1]} says step {state.get('step')}")
                except Exception as error:  # noqa: BLE001 - any failure to read is the finding
                    broken.append(f"{label}: the latest checkpoint {found[1]} does not load: {error}")
                if found[0] < last_step:
                    broken.append(f"{label}: the latest checkpoint went back from step {last_step} to {found[0]}")
                last_step = max(last_step, found[0])
            print(f"  {label}: exit {code}, latest checkpoint {found[0] if found else None}, "
                  f"temporaries {temporaries(out)}", flush=True)
        total = sum(counts.values())
        check(not broken, f"{name}: every kill left a checkpoint that loads and never went back; every resume ran "
                          f"({'; '.join(broken[:3])})")
        check(total == kills, f"{name}: {total} kills ({counts}), {resumes} resumes")
        check(not temporaries(out), f"{name}: no temporary checkpoint folder left ({temporaries(out)})")
        logged = [json.loads(line)["step"] for line in open(os.path.join(out, "metrics.jsonl")) if line.strip()]
        check(logged == list(range(1, steps + 1)), f"{name}: metrics.jsonl has each step exactly once ({logged})")
        events = event_accumulator.EventAccumulator(out, size_guidance={event_accumulator.SCALARS: 0})
        events.Reload()
        tags = events.Tags()["scalars"]
        bad = [t for t in tags if [e.step for e in events.Scalars(t)] != list(range(1, steps + 1))]
        check(len(tags) > 10 and not bad, f"{name}: the TensorBoard events have each step exactly once for all "
                                          f"{len(tags)} scalar tags (wrong: {bad[:3]})")
        final = latest_checkpoint(out)
        if final and final[0] == steps:
            _, tensors = load_all(final[1])
            reference = references[nproc]
            differ = [k for k in reference if k not in tensors or not (reference[k] == tensors[k]).all()]
            check(tensors.keys() == reference.keys() and not differ,
                  f"{name}: the final weights and AdamW state equal the uninterrupted {nproc}-rank run's, bit for bit "
                  f"({len(reference)} tensors, {len(differ)} differ)")
        else:
            check(False, f"{name}: the run reached step {steps} (latest {final})")
        return counts, resumes

    one = soak("one-rank", 1, args.kills)
    two = soak("two-ranks", 2, args.rank_kills)
    print("\n| run | kills | by kind | resumes |")
    print("| --- | ---: | --- | ---: |")
    for name, (counts, resumes) in (("1 rank", one), ("2 ranks", two)):
        print(f"| {name} | {sum(counts.values())} | {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))} | {resumes} |")

print(f"\n{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
