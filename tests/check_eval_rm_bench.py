#!/usr/bin/env python3
"""`precept eval rm-bench --judgments` against a numpy re-implementation of RM-Bench's scoring.

For every prompt of RM-Bench's data files in ../shared/datasets/rm-bench, random scores for its
three chosen and three rejected responses (integer 1-5 scores with ties, real scores, a few
unscored responses as null, a few prompts given as a 0/1 "correct" matrix instead) go through
`precept eval rm-bench --judgments`; the report's per-domain, overall, paper-domain (safety =
safety-refuse + safety-response) and domain-mean accuracies are compared with RM-Bench's
compute_accuracy as its README writes it (acc[i][j] += score_chosen[i] > score_rejected[j],
divided by N; hard = sum(triu(acc, 1)) / 3, normal = mean(diag), easy = sum(tril(acc, -1)) / 3),
to 1e-12. Then the same with --domains/--limit. Exit status non-zero on any mismatch.
"""
import argparse
import json
import pathlib
import random
import subprocess
import sys
import tempfile

import numpy as np

TOLERANCE = 1e-12


def compute_accuracy(matrices):
    acc = np.zeros((3, 3))
    for m in matrices:
        acc += m
    acc /= len(matrices)
    hard = np.sum(np.triu(acc, 1)) / 3
    normal = np.mean(np.diag(acc))
    easy = np.sum(np.tril(acc, -1)) / 3
    return {"easy": easy, "normal": normal, "hard": hard, "average": (easy + normal + hard) / 3, "matrix": acc}


def matrix_from_scores(chosen, rejected):
    m = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            c = float("nan") if chosen[i] is None else chosen[i]
            r = float("nan") if rejected[j] is None else rejected[j]
            if c > r:
                m[i][j] += 1
    return m


def random_record(rng, domain, item_id):
    kind = rng.random()
    if kind < 0.08:
        correct = [[rng.choice([0, 1]) for _ in range(3)] for _ in range(3)]
        return {"domain": domain, "id": item_id, "correct": correct}, np.array(correct, dtype=float)
    if kind < 0.6:
        scores = [rng.randint(1, 5) for _ in range(6)]
    else:
        scores = [rng.uniform(-3, 3) for _ in range(6)]
    if rng.random() < 0.05:
        scores[rng.randrange(6)] = None
    chosen, rejected = scores[:3], scores[3:]
    return ({"domain": domain, "id": item_id, "score_chosen": chosen, "score_rejected": rejected},
            matrix_from_scores(chosen, rejected))


def expected_report(items):
    by_domain = {}
    for domain, matrix in items:
        by_domain.setdefault(domain, []).append(matrix)
    paper = {}
    for domain, matrices in by_domain.items():
        paper.setdefault("safety" if domain.startswith("safety") else domain, []).extend(matrices)
    out = {"overall": compute_accuracy([m for _, m in items]),
           "by_domain": {d: compute_accuracy(ms) for d, ms in by_domain.items()},
           "paper_domains": {d: compute_accuracy(ms) for d, ms in paper.items()}}
    out["domain_mean"] = float(np.mean([v["average"] for v in out["paper_domains"].values()]))
    return out


def compare(report, expected, errors, label):
    worst = 0.0
    for section in ("overall",):
        pass
    pairs = [("overall", report["overall"], expected["overall"])]
    for domain, value in expected["by_domain"].items():
        pairs.append((f"by_domain.{domain}", report["by_domain"].get(domain), value))
    for domain, value in expected["paper_domains"].items():
        pairs.append((f"paper_domains.{domain}", report["paper_domains"].get(domain), value))
    for name, ours, theirs in pairs:
        if ours is None:
            errors.append(f"{label}: report has no {name}")
            continue
        for key in ("easy", "normal", "hard", "average"):
            diff = abs(ours[key] - theirs[key])
            worst = max(worst, diff)
            if diff > TOLERANCE:
                errors.append(f"{label} {name}.{key}: precept {ours[key]!r}, numpy {theirs[key]!r}")
        diff = float(np.max(np.abs(np.array(ours["matrix"]) - theirs["matrix"])))
        worst = max(worst, diff)
        if diff > TOLERANCE:
            errors.append(f"{label} {name}.matrix differs by {diff}")
    diff = abs(report["domain_mean"] - expected["domain_mean"])
    worst = max(worst, diff)
    if diff > TOLERANCE:
        errors.append(f"{label} domain_mean: precept {report['domain_mean']!r}, numpy {expected['domain_mean']!r}")
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True)
    parser.add_argument("--fixtures")
    parser.add_argument("--shared", required=True)
    args = parser.parse_args()
    data_dir = pathlib.Path(args.shared) / "datasets" / "rm-bench"
    rng = random.Random(7)
    items, lines = [], []
    for path in sorted(data_dir.glob("*_filtered.json")):
        domain = path.name[: -len("_filtered.json")]
        for record in json.loads(path.read_text()):
            line, matrix = random_record(rng, domain, record["id"])
            lines.append(line)
            items.append((domain, matrix, record["id"]))
    rng.shuffle(lines)  # any order
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "scores.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        runs = [("all prompts", [], [(d, m) for d, m, _ in items])]
        limited, taken = [], {}
        for d, m, _ in items:
            if d in ("chat", "safety-response") and taken.get(d, 0) < 20:
                taken[d] = taken.get(d, 0) + 1
                limited.append((d, m))
        runs.append(("--domains chat,safety-response --limit 20", ["--domains", "chat,safety-response", "--limit", "20"], limited))
        for label, extra, selected in runs:
            command = [args.precept, "eval", "rm-bench", "--data-dir", str(data_dir), "--judgments",
                       str(tmp / "scores.jsonl"), "-o", str(tmp / "report.json")] + extra
            result = subprocess.run(command, capture_output=True, text=True)
            print(result.stdout)
            if result.returncode != 0:
                print(result.stderr)
                print(f"FAILED: {label}: exit {result.returncode}")
                return 1
            report = json.loads((tmp / "report.json").read_text())
            expected = expected_report(selected)
            worst = compare(report, expected, errors, label)
            print(f"{label}: {len(selected)} prompts, max |precept - numpy| {worst:.3g}")
            if "<svg" not in (tmp / "report.html").read_text():
                errors.append(f"{label}: no SVG in the HTML report")
    if errors:
        print(f"FAILED: {len(errors)} mismatches")
        for error in errors[:20]:
            print("  " + error)
        return 1
    print(f"OK: RM-Bench accuracies equal numpy's compute_accuracy within {TOLERANCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
