#!/usr/bin/env python3
"""`precept eval judge` against scipy, scikit-learn and numpy on random listwise cases.

Writes 600 random cases (2 to 12 responses; integer and real scores with many ties, constant
gold and constant predicted lists, zero and negative gold values, unscored responses, complete
and incomplete rankings) as a listwise dataset and a judgments file: half the judgments as
scores, half as raw judge outputs under upstream RewardAnything's masked names
(rewardanything.processing.make_masked_responses, seed 42, read back with --mask-seed 42).
Runs `precept eval judge --judgments ... --per-case ... -o ...` and compares:
  - per case: Kendall tau-b with scipy.stats.kendalltau, NDCG with sklearn.metrics.ndcg_score,
    the variance with numpy.var, the pairwise credit with a direct count, which cases failed,
    which used the ranking, and which metrics are undefined (NaN/raise there, null here);
  - the report's overall, by_domain and by_category aggregates with the same recomputed here.
Tolerance 1e-9. Prints the largest differences. Exit status non-zero on any mismatch.
"""
import argparse
import json
import math
import pathlib
import random
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from scipy.stats import kendalltau
from sklearn.metrics import ndcg_score
import rewardanything.processing as upstream

TOLERANCE = 1e-9


def random_scores(rng, k, constant_chance):
    kind = rng.random()
    if rng.random() < constant_chance:
        return [float(rng.randint(0, 5))] * k
    if kind < 0.5:
        return [float(rng.randint(1, 5)) for _ in range(k)]  # integer judge-like scores, many ties
    if kind < 0.7:
        return [float(rng.randint(0, 2)) for _ in range(k)]  # few levels, zeros
    return [round(rng.uniform(0, 10), rng.choice([1, 3, 17])) for _ in range(k)]


def make_cases(rng, count):
    cases, judgments = [], []
    for n in range(count):
        k = 2 + n % 11  # every k from 2 to 12, many times
        names = [f"r{j}" for j in range(k)]
        rng.shuffle(names)
        gold = random_scores(rng, k, 0.08)
        if rng.random() < 0.03:
            gold[rng.randrange(k)] = -1.0  # sklearn refuses negative gold
        predicted = random_scores(rng, k, 0.08)
        case = {"id": f"case-{n}", "principle": "Be helpful.", "prompt": f"prompt {n}",
                "responses": {name: f"response {name}" for name in names},
                "ground_truth": {"scores": dict(zip(names, gold))}}
        domain = rng.choice(["chat", "code", "math", "safety", None])
        if domain:
            case["domain"] = domain
        category = rng.choice(["content", "structure", "tone", None])
        if category:
            case["category"] = category
        scores = dict(zip(names, predicted))
        if rng.random() < 0.06:
            scores[rng.choice(names)] = None  # unscored: a parse failure
        ranking = None
        r = rng.random()
        if r < 0.35:
            ranking = list(names)
            rng.shuffle(ranking)  # a complete ranking (need not agree with the scores)
        elif r < 0.42:
            ranking = list(names)[: max(1, k - 1)]  # incomplete: the scores decide
        cases.append(case)
        judgments.append((case, scores, ranking))
    return cases, judgments


def judgment_line(rng, case, scores, ranking):
    if rng.random() < 0.5:
        line = {"id": case["id"], "scores": scores}
        if ranking is not None:
            line["best-to-worst"] = ranking
        return line, scores
    # A raw output under upstream's masked names; an unscored response is simply absent.
    _, masked2real = upstream.make_masked_responses(case["responses"])
    real2masked = {real: masked for masked, real in masked2real.items()}
    body = {"scores": {real2masked[name]: value for name, value in scores.items() if value is not None}}
    if ranking is not None:
        body["best-to-worst"] = [real2masked[name] for name in ranking]
    output = "<think>\nweighing the responses\n</think>\n" + json.dumps(body)
    return {"id": case["id"], "output": output}, {name: value for name, value in scores.items() if value is not None}


def expected_case(case, scores, ranking):
    names = list(case["responses"])
    gold = [case["ground_truth"]["scores"][name] for name in names]
    if any(scores.get(name) is None for name in names):
        ordered = sum(1 for i in range(len(gold)) for j in range(i + 1, len(gold)) if gold[i] != gold[j])
        return {"parse_failure": True, "pairs": ordered}
    predicted = [scores[name] for name in names]
    complete = ranking is not None and sorted(ranking) == sorted(names) and len(set(ranking)) == len(names)
    credit, pairs = 0.0, 0
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if gold[i] == gold[j]:
                continue
            pairs += 1
            better, worse = (i, j) if gold[i] > gold[j] else (j, i)
            if complete:
                credit += 1.0 if ranking.index(names[better]) < ranking.index(names[worse]) else 0.0
            else:
                diff = predicted[better] - predicted[worse]
                credit += 1.0 if diff > 0 else 0.5 if diff == 0 else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau = kendalltau(gold, predicted).statistic
    tau = None if math.isnan(tau) else float(tau)
    ndcg = None if min(gold) < 0 else float(ndcg_score([gold], [predicted]))
    return {"parse_failure": False, "ranking_used": complete, "pairs": pairs, "pairwise_credit": credit,
            "kendall_tau": tau, "ndcg": ndcg, "score_variance": float(np.var(predicted)),
            "domain": case.get("domain", ""), "category": case.get("category", "")}


def aggregate(rows):
    parsed = [r for r in rows if not r["parse_failure"]]
    pairs = sum(r["pairs"] for r in parsed)
    taus = [r["kendall_tau"] for r in parsed if r["kendall_tau"] is not None]
    ndcgs = [r["ndcg"] for r in parsed if r["ndcg"] is not None]
    return {"pairwise_accuracy": sum(r["pairwise_credit"] for r in parsed) / pairs if pairs else None,
            "kendall_tau": float(np.mean(taus)) if taus else None,
            "ndcg": float(np.mean(ndcgs)) if ndcgs else None,
            "score_variance": float(np.mean([r["score_variance"] for r in parsed])) if parsed else None,
            "parse_failure_rate": (len(rows) - len(parsed)) / len(rows),
            "pairwise_accuracy_with_failures":
                (sum(r["pairwise_credit"] for r in parsed) + 0.5 * sum(r["pairs"] for r in rows if r["parse_failure"]))
                / sum(r["pairs"] for r in rows) if sum(r["pairs"] for r in rows) else None,
            "cases": len(rows), "parse_failures": len(rows) - len(parsed), "pairs": pairs,
            "kendall_tau_undefined": len(parsed) - len(taus), "ndcg_undefined": len(parsed) - len(ndcgs)}


class Comparison:
    def __init__(self):
        self.max_diff = {}
        self.errors = []

    def value(self, what, metric, ours, theirs):
        if theirs is None or ours is None:
            if theirs is not ours and not (theirs is None and ours is None):
                self.errors.append(f"{what} {metric}: precept {ours}, reference {theirs}")
            return
        diff = abs(ours - theirs)
        self.max_diff[metric] = max(self.max_diff.get(metric, 0.0), diff)
        if diff > TOLERANCE:
            self.errors.append(f"{what} {metric}: precept {ours!r}, reference {theirs!r} (diff {diff:.3g})")


def command_line_errors(precept):
    """Bad input on the command line: exit status and a message naming the file and line."""
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        good = {"id": "a", "principle": "P", "prompt": "Q", "responses": {"x": "1", "y": "2"},
                "ground_truth": {"scores": {"x": 1, "y": 2}}}
        (tmp / "data.jsonl").write_text(json.dumps(good) + "\n")
        (tmp / "bad.jsonl").write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "b", "responses": {}}) + "\n")
        (tmp / "judged.jsonl").write_text(json.dumps({"id": "a", "scores": {"x": 1, "z": 2}}) + "\n")
        runs = [([precept, "eval", "nosuch"], 2, "unknown subcommand 'nosuch'"),
                ([precept, "eval", "judge", "--data", tmp / "data.jsonl"], 1, "give --model DIR or --judgments FILE"),
                ([precept, "eval", "judge", "--data", tmp / "bad.jsonl", "--judgments", tmp / "judged.jsonl"], 1,
                 "bad.jsonl:2: field 'responses': a listwise case needs at least 2 responses"),
                ([precept, "eval", "judge", "--data", tmp / "data.jsonl", "--judgments", tmp / "judged.jsonl"], 1,
                 "judged.jsonl:1: \"scores\" names 'z', which is not a response of case 'a'")]
        for command, status, message in runs:
            result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
            if result.returncode != status or message not in result.stderr:
                errors.append(f"{' '.join(map(str, command[1:3]))}: exit {result.returncode} (expected {status}), "
                              f"stderr {result.stderr.strip()[:200]!r} lacks {message!r}")
    print(f"command-line errors: {len(runs) - len(errors)}/{len(runs)} as expected")
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True)
    parser.add_argument("--fixtures")
    parser.add_argument("--shared")
    parser.add_argument("--cases", type=int, default=600)
    args = parser.parse_args()

    rng = random.Random(20250614)
    cases, judged = make_cases(rng, args.cases)
    expected, lines = [], []
    for case, scores, ranking in judged:
        line, visible_scores = judgment_line(rng, case, scores, ranking)
        lines.append(line)
        full = {name: visible_scores.get(name) for name in case["responses"]}
        expected.append(expected_case(case, full, ranking))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "data.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
        (tmp / "judgments.jsonl").write_text("".join(json.dumps(j) + "\n" for j in lines))
        command = [args.precept, "eval", "judge", "--data", str(tmp / "data.jsonl"), "--judgments",
                   str(tmp / "judgments.jsonl"), "--mask-seed", "42", "--per-case", str(tmp / "cases.jsonl"),
                   "-o", str(tmp / "report.json")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stdout, result.stderr)
            print("FAILED: precept eval judge exited", result.returncode)
            return 1
        print(result.stdout)
        ours = [json.loads(line) for line in (tmp / "cases.jsonl").read_text().splitlines()]
        report = json.loads((tmp / "report.json").read_text())
        html = (tmp / "report.html").read_text()

    check = Comparison()
    assert len(ours) == len(expected)
    for case, mine, ref in zip(cases, ours, expected):
        what = case["id"]
        if mine["parse_failure"] != ref["parse_failure"]:
            check.errors.append(f"{what}: parse_failure precept {mine['parse_failure']}, expected {ref['parse_failure']}")
            continue
        if ref["parse_failure"]:
            continue
        if mine["ranking_used"] != ref["ranking_used"] or mine["pairs"] != ref["pairs"]:
            check.errors.append(f"{what}: ranking_used/pairs {mine['ranking_used']}/{mine['pairs']}, expected "
                                f"{ref['ranking_used']}/{ref['pairs']}")
        for metric in ("pairwise_credit", "kendall_tau", "ndcg", "score_variance"):
            check.value(what, metric, mine[metric], ref[metric])

    groups = {"overall": {"": expected}}
    for key, field in (("by_domain", "domain"), ("by_category", "category")):
        members = {}
        parsed_fields = {}
        for case, ref in zip(cases, expected):
            members.setdefault(case.get(field) or "(none)", []).append(ref)
        groups[key] = members
    for key, members in groups.items():
        for name, rows in members.items():
            mine = report[key] if key == "overall" else report[key].get(name)
            if mine is None:
                check.errors.append(f"report {key} has no '{name}'")
                continue
            for metric, value in aggregate(rows).items():
                if isinstance(value, int) and not isinstance(value, bool) and metric != "parse_failure_rate":
                    if mine[metric] != value:
                        check.errors.append(f"{key} {name} {metric}: precept {mine[metric]}, expected {value}")
                else:
                    check.value(f"{key} {name}", "aggregate " + metric, mine[metric], value)
    for field in ("pairwise_accuracy", "kendall_tau", "ndcg", "score_variance", "parse_failure_rate", "cases"):
        if field not in report["overall"]:
            check.errors.append(f"report field '{field}' missing")
    if "<svg" not in html:
        check.errors.append("the HTML report has no SVG chart")

    check.errors += command_line_errors(args.precept)

    failures = sum(r["parse_failure"] for r in expected)
    undefined_tau = sum(1 for r in expected if not r["parse_failure"] and r["kendall_tau"] is None)
    undefined_ndcg = sum(1 for r in expected if not r["parse_failure"] and r["ndcg"] is None)
    print(f"{len(cases)} cases (k 2..12), {failures} parse failures, {undefined_tau} with tau undefined, "
          f"{undefined_ndcg} with NDCG undefined, {sum(r.get('ranking_used', False) for r in expected)} ranked")
    for metric, diff in sorted(check.max_diff.items()):
        print(f"max |precept - reference| {metric}: {diff:.3g}")
    if check.errors:
        print(f"FAILED: {len(check.errors)} mismatches")
        for error in check.errors[:20]:
            print("  " + error)
        return 1
    print(f"OK: every per-case metric and aggregate within {TOLERANCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
