#!/usr/bin/env python3
"""`precept data convert` and `precept data sft-targets` on the real datasets in ../shared.

For each of the five source formats, runs `precept data convert` on the real file (or, for
RM-Bench, the data directory), then reads the source again here, independently, with the rules
docs/data.md states (names, 1-5 scale, what is skipped) and compares every case: the count, the
ids, the exact {name: text} responses in order, the scores (1e-9), domain, category and that
the principle is the one stated. Every output line must be a valid listwise record.

Then `precept data sft-targets` on the converted Prometheus file: the system message is
precept's default prompt; the user message is Python's json.dumps of {principle, prompt,
responses} with the responses shuffled as recomputed here (FNV-1a of the id, the splitmix mixer
of core/random_streams, CPython's random.shuffle) and renamed model-1..k; the assistant message
parses as JSON whose scores, mapped back through that masking, equal the gold, and whose
ranking is the gold order. The same --seed twice gives the same bytes; another seed another
masking; --no-mask the case's own names; --think a <think> block first.
Prints counts; exits non-zero on any mismatch or when nothing was compared.
"""
import argparse
import collections
import json
import pathlib
import random
import subprocess
import sys
import tempfile

TOLERANCE = 1e-9
MASK64 = (1 << 64) - 1
HELPSTEER_ATTRIBUTES = ["helpfulness", "correctness", "coherence", "complexity", "verbosity"]
STYLES = ["concise", "detailed", "markdown"]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [(n, json.loads(line)) for n, line in enumerate(f, 1) if line.strip()]


def case(id_, prompt, names, texts, scores, domain, category, principle=None):
    return {"id": id_, "principle": principle, "prompt": prompt, "responses": list(zip(names, texts)),
            "scores": dict(zip(names, scores)), "domain": domain, "category": category}


def expected_prometheus(path):
    out = []
    for _, r in read_jsonl(path):
        domain = {"coding": "code", "math": "math"}.get(r["category"], "chat")
        out.append(case("prometheus:" + r["id"], r["prompt"], r["response_sources"], r["responses"], r["scores"], domain,
                        r["category"], r["principle"]))
    return out, {}


def expected_alpacaeval(path, prefix, keep_reference):
    out = []
    for _, r in read_jsonl(path):
        start = 0 if keep_reference else 1
        scores = [round(1 + 4 * p, 6) for p in r["scores"][start:]]
        out.append(case(prefix + str(r["id"]), r["instruction"], r["generators"][start:], r["responses"][start:], scores,
                        "chat", r["dataset"]))
    return out, {}


def expected_helpsteer(path):
    groups = collections.OrderedDict()
    skipped = collections.Counter()
    for line, r in read_jsonl(path):
        group = groups.setdefault(r["prompt"], {"line": line, "texts": [], "rows": []})
        if r["response"] in group["texts"]:
            skipped["row repeating a response already given for its prompt (first kept)"] += 1
            continue
        group["texts"].append(r["response"])
        group["rows"].append(r)
    out = []
    for prompt, group in groups.items():
        if len(group["texts"]) < 2:
            skipped["prompt with fewer than 2 distinct responses"] += 1
            continue
        names = [f"response-{i + 1}" for i in range(len(group["texts"]))]
        for attribute in HELPSTEER_ATTRIBUTES:
            out.append(case(f"helpsteer:{group['line']}:{attribute}", prompt, names, group["texts"],
                            [row[attribute] + 1 for row in group["rows"]], "chat", attribute))
    return out, dict(skipped)


def expected_rm_bench(directory):
    order = ["chat", "code", "math", "safety-refuse", "safety-response"]
    files = sorted(directory.glob("*_filtered.json"), key=lambda p: order.index(p.name[: -len("_filtered.json")]))
    out, skipped = [], collections.Counter()
    for path in files:
        domain = path.name[: -len("_filtered.json")]
        for r in json.loads(path.read_text(encoding="utf-8")):
            if set(r["chosen"]) & set(r["rejected"]):
                skipped["a rejected response has the text of a chosen one"] += 1
                continue
            names = [f"chosen-{s}" for s in STYLES] + [f"rejected-{s}" for s in STYLES]
            out.append(case(f"rm-bench:{domain}/{r['id']}", r["prompt"], names, r["chosen"] + r["rejected"], [2] * 3 + [1] * 3,
                            "safety" if domain.startswith("safety") else domain, domain))
    return out, dict(skipped)


def valid_listwise(record):
    """The rules of data/listwise.h, written again."""
    if not isinstance(record.get("id"), (str, int)) or record["id"] == "":
        return "id"
    if not isinstance(record.get("principle"), str) or not record["principle"].strip():
        return "principle"
    if not isinstance(record.get("prompt"), str):
        return "prompt"
    responses = record.get("responses")
    if not isinstance(responses, dict) or len(responses) < 2 or not all(isinstance(t, str) for t in responses.values()):
        return "responses"
    scores = record.get("ground_truth", {}).get("scores")
    if not isinstance(scores, dict) or set(scores) != set(responses):
        return "ground_truth.scores"
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores.values()):
        return "ground_truth.scores"
    return None


def compare_conversion(label, output_path, expected, errors):
    got = [json.loads(line) for line in output_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(got) != len(expected):
        errors.append(f"{label}: {len(got)} cases, expected {len(expected)}")
    principles = collections.defaultdict(set)
    compared = 0
    for ours, theirs in zip(got, expected):
        bad = valid_listwise(ours)
        if bad:
            errors.append(f"{label} {ours.get('id')}: invalid field {bad}")
            continue
        where = f"{label} {theirs['id']}"
        if ours["id"] != theirs["id"]:
            errors.append(f"{where}: id {ours['id']!r}")
            continue
        if ours["prompt"] != theirs["prompt"]:
            errors.append(f"{where}: prompt differs")
        if list(ours["responses"].items()) != theirs["responses"]:
            errors.append(f"{where}: responses differ")
        for name, score in theirs["scores"].items():
            if abs(ours["ground_truth"]["scores"][name] - score) > TOLERANCE:
                errors.append(f"{where}: score of {name}: {ours['ground_truth']['scores'][name]} != {score}")
        for key in ("domain", "category"):
            if ours[key] != theirs[key]:
                errors.append(f"{where}: {key} {ours[key]!r} != {theirs[key]!r}")
        if theirs["principle"] is not None and ours["principle"] != theirs["principle"]:
            errors.append(f"{where}: principle {ours['principle']!r}")
        principles[theirs["category"] if label in ("helpsteer", "rm-bench") else ""].add(ours["principle"])
        compared += 1
    if label != "prometheus-listwise":
        for group, texts in principles.items():
            if len(texts) != 1:
                errors.append(f"{label}: {len(texts)} different principles for {group or 'all cases'}")
    return got, compared


# The masking of reward/judge_case.h, recomputed.
def fnv1a(text):
    h = 1469598103934665603
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 1099511628211) & MASK64
    return h


def mix_seed(seed, index):
    x = seed ^ ((index * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019 + ((seed << 6) & MASK64) + (seed >> 2)) & MASK64)
    x &= MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def shown_order(case_id, count, seed):
    order = list(range(count))
    random.seed(mix_seed(seed, fnv1a(case_id)))
    random.shuffle(order)
    return order


def check_sft(precept, listwise_path, system_prompt, tmp, errors):
    cases = [json.loads(line) for line in listwise_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    outputs = {}
    for label, extra in [("seed 5", ["--seed", "5"]), ("seed 5 again", ["--seed", "5"]), ("seed 6", ["--seed", "6"]),
                         ("no mask", ["--no-mask"]), ("think", ["--seed", "5", "--think"])]:
        out = tmp / f"sft-{len(outputs)}.jsonl"
        result = subprocess.run([precept, "data", "sft-targets", "--data", str(listwise_path), "-o", str(out)] + extra,
                                capture_output=True, text=True)
        if result.returncode != 0:
            errors.append(f"sft-targets {label}: exit {result.returncode}: {result.stderr}")
            return 0
        outputs[label] = out.read_text(encoding="utf-8")
    if outputs["seed 5"] != outputs["seed 5 again"]:
        errors.append("sft-targets: the same --seed gave different files")
    if outputs["seed 5"] == outputs["seed 6"]:
        errors.append("sft-targets: --seed 5 and --seed 6 gave the same masking")
    compared = 0
    for label, seed, mask, think in [("seed 5", 5, True, False), ("seed 6", 6, True, False), ("no mask", 0, False, False),
                                     ("think", 5, True, True)]:
        lines = outputs[label].splitlines()
        if len(lines) != len(cases):
            errors.append(f"sft-targets {label}: {len(lines)} lines for {len(cases)} cases")
        for line, c in zip(lines, cases):
            chat = json.loads(line)
            where = f"sft-targets {label} {c['id']}"
            if chat["id"] != c["id"] or [m["role"] for m in chat["messages"]] != ["system", "user", "assistant"]:
                errors.append(f"{where}: id or roles")
                continue
            if chat["messages"][0]["content"] != system_prompt:
                errors.append(f"{where}: system prompt is not the default")
            names = list(c["responses"])
            order = shown_order(c["id"], len(names), seed) if mask else list(range(len(names)))
            shown = [f"model-{j + 1}" for j in range(len(names))] if mask else names
            masked2real = {shown[j]: names[order[j]] for j in range(len(names))}
            user = json.dumps({"principle": c["principle"], "prompt": c["prompt"],
                               "responses": {shown[j]: c["responses"][names[order[j]]] for j in range(len(names))}},
                              ensure_ascii=False)
            if chat["messages"][1]["content"] != user:
                errors.append(f"{where}: user message is not json.dumps of the masked case")
            target = chat["messages"][2]["content"]
            if think:
                head, sep, target = target.partition("</think>\n\n")
                if not head.startswith("<think>\n") or not sep:
                    errors.append(f"{where}: no <think> block")
            judgment = json.loads(target)
            gold = c["ground_truth"]["scores"]
            if list(judgment["scores"]) != shown:
                errors.append(f"{where}: scores not in shown order")
            unmasked = {masked2real[name]: score for name, score in judgment["scores"].items()}
            if any(abs(unmasked[name] - gold[name]) > TOLERANCE for name in names) or set(unmasked) != set(names):
                errors.append(f"{where}: scores {unmasked} != gold {gold}")
            ranking = [masked2real[name] for name in judgment["best-to-worst"]]
            expected = sorted([masked2real[name] for name in shown], key=lambda name: -gold[name])  # stable: ties in shown order
            if ranking != expected:
                errors.append(f"{where}: ranking {ranking} != {expected}")
            compared += 1
    return compared


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True)
    parser.add_argument("--fixtures")
    parser.add_argument("--shared", required=True)
    args = parser.parse_args()
    datasets = pathlib.Path(args.shared) / "datasets"
    repo = pathlib.Path(__file__).resolve().parent.parent
    sets = [
        ("prometheus-listwise", datasets / "prometheus-eval" / "listwise_vicuna_eval.jsonl", expected_prometheus),
        ("alpacaeval-listwise", datasets / "alpacaeval" / "listwise_gpt4turbo_judged_12gen.jsonl",
         lambda p: expected_alpacaeval(p, "alpacaeval:", True)),
        ("reward-bench-bon", datasets / "reward-bench-bon" / "alpacaeval_bon_tulu2dpo13b_11samples_scored.jsonl",
         lambda p: expected_alpacaeval(p, "reward-bench-bon:", False)),
        ("helpsteer", datasets / "helpsteer-sample" / "nvidia_HelpSteer_sample.jsonl", expected_helpsteer),
        ("rm-bench", datasets / "rm-bench", expected_rm_bench),
    ]
    errors = []
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for label, source, expect in sets:
            out = tmp / f"{label}.jsonl"
            result = subprocess.run([args.precept, "data", "convert", "--from", label, str(source), "-o", str(out)],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                errors.append(f"{label}: exit {result.returncode}: {result.stderr}")
                continue
            expected, skipped = expect(source)
            _, compared = compare_conversion(label, out, expected, errors)
            if f"wrote {len(expected)} listwise cases" not in result.stderr:
                errors.append(f"{label}: the summary does not say {len(expected)} cases: {result.stderr}")
            for reason, count in skipped.items():
                if f"  {count}: {reason}" not in result.stderr:
                    errors.append(f"{label}: the summary does not count {count} skipped ({reason}): {result.stderr}")
            print(f"{label}: {compared} cases compared, skipped {skipped or 'none'}")
            total += compared
        system_prompt = (repo / "configs" / "judge" / "default_system_prompt.txt").read_text(encoding="utf-8")
        sft = check_sft(args.precept, tmp / "prometheus-listwise.jsonl", system_prompt, tmp, errors)
        print(f"sft-targets: {sft} chats compared")
        result = subprocess.run([args.precept, "data", "convert", "--from", "nope", "x", "-o", str(tmp / "x.jsonl")],
                                capture_output=True, text=True)
        if result.returncode == 0 or "known: prometheus-listwise, alpacaeval-listwise" not in result.stderr:
            errors.append(f"unknown --from: exit {result.returncode}, {result.stderr!r}")
    if errors:
        print(f"FAILED: {len(errors)} mismatches")
        by_label = collections.defaultdict(list)
        for error in errors:
            by_label[error.split(" ")[0]].append(error)
        for label, some in by_label.items():  # a few of each kind
            print(f"  {label}: {len(some)}")
            for error in some[:3]:
                print("    " + error[:300])
        return 1
    if total == 0 or sft == 0:
        print("FAILED: nothing was compared")
        return 1
    print(f"OK: {total} converted cases and {sft} SFT chats equal the independent reading")
    return 0


if __name__ == "__main__":
    sys.exit(main())
