#!/usr/bin/env python3
"""precept's judge-training reward (`precept judge --grade`) against upstream rewardanything 1.0.1.

Generates random judge-training cases (gold score maps with ties and floats; judgments that leave
responses out, invent names, tie, use floats and numeric strings, mask names, wrap the JSON in
think blocks, fences, prose, single quotes and trailing commas, misspell or drop keys), grades
them with `precept judge --grade` under two configurations, and compares:
  - format with upstream's processing.format_reward (check_ranking_consistency, which upstream
    never shipped, monkeypatched with a port of precept's definition in docs/judge-reward.md);
  - pair_penalty with upstream's calculate_weighted_pair_penalty on upstream's parsed scores;
  - distribution, partial_credit, ranking_agreement, accuracy and reward with a numpy/scipy
    reference written from docs/judge-reward.md;
each to 1e-9, and checks that bad input is an error naming file:line and the key. Prints the
counts; fails if any differs or fewer than 200 cases were compared for any quantity.
"""
import argparse
import json
import math
import pathlib
import random
import subprocess
import sys

import numpy as np
from scipy.stats import kendalltau

import rewardanything.processing as upstream

TOLERANCE = 1e-9
MIN_COMPARED = 200


# ---- precept's definitions (docs/judge-reward.md), written again in Python ----------------------

def ranking_consistency(pred_json):
    """precept's consistency of a judgment object, for upstream's missing check_ranking_consistency."""
    scores = pred_json.get("scores")
    ranking = pred_json["best-to-worst"] if "best-to-worst" in pred_json else pred_json.get("best-to-worse")
    if not isinstance(scores, dict) or not isinstance(ranking, list):
        return 0.0
    numeric = {k: float(v) for k, v in scores.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    if not numeric:
        return 0.0
    ranked, seen = [], set()
    for item in ranking:
        if isinstance(item, str) and item in numeric and item not in seen:
            seen.add(item)
            ranked.append(numeric[item])
    if len(numeric) == 1:
        return 1.0 if len(ranked) == 1 else 0.0
    in_order = sum(1 for a, b in zip(ranked, ranked[1:]) if a >= b)
    return in_order / (len(numeric) - 1)


upstream.check_ranking_consistency = ranking_consistency


def think_part(predict):
    """The think-tag terms of upstream's format_reward alone."""
    opened, closed = "<think>" in predict, "</think>" in predict
    if opened and closed:
        start = predict.find("<think>")
        end = predict.find("</think>", start + 7)
        long_enough = end != -1 and len(predict[start + 7:end].strip()) > 50
        return 0.15 + (0.05 if long_enough else 0.0)
    return 0.05 if opened or closed else 0.0


def top_names(scores, k):
    values = sorted(scores.values(), reverse=True)
    if not values:
        return set()
    threshold = values[min(k, len(values)) - 1]
    return {n for n, s in scores.items() if s >= threshold}


def reference_accuracy_terms(pred, gold, cfg):
    shared = [n for n in sorted(gold) if n in pred]
    if not shared:
        return None
    p = np.array([pred[n] for n in shared], dtype=float)
    g = np.array([gold[n] for n in shared], dtype=float)
    r = cfg["score_range"]
    distribution = 0.5 * (max(0.0, 1 - abs(p.mean() - g.mean()) / r) + max(0.0, 1 - abs(p.std() - g.std()) / (r / 2)))
    partial = sum(max(0.0, 1 - abs(pred[n] - gold[n]) / cfg["partial_credit_distance"]) for n in gold if n in pred)
    partial /= len(gold)
    if len(shared) < 2 or np.all(g == g[0]):
        tau_part = 1.0
    else:
        tau = kendalltau(g, p).statistic
        tau_part = 0.5 if math.isnan(tau) else (tau + 1) / 2
    k = min(cfg["top_k"], len(gold))
    gold_top = top_names(gold, k)
    predicted_top = top_names({n: pred[n] for n in shared}, k)
    union = gold_top | predicted_top
    top = len(gold_top & predicted_top) / len(union) if union else 0.0
    ranking = (1 - cfg["top_k_share"]) * tau_part + cfg["top_k_share"] * top
    return {"distribution": distribution, "partial_credit": partial, "ranking_agreement": ranking}


# ---- random cases -------------------------------------------------------------------------------

def random_score(rng):
    kind = rng.random()
    if kind < 0.55:
        return rng.randint(1, 5)
    if kind < 0.8:
        return rng.randint(2, 10) / 2
    return round(rng.uniform(0.5, 5.5), rng.choice([1, 3, 6]))


def make_case(rng, index):
    k = rng.randint(1, 9) if rng.random() < 0.05 else rng.randint(2, 9)
    real = [f"resp-{chr(97 + i)}" for i in range(k)]
    gold = {name: random_score(rng) for name in real}
    if rng.random() < 0.15:  # many ties in the gold
        level = random_score(rng)
        for name in rng.sample(real, max(1, k // 2)):
            gold[name] = level
    masked = rng.random() < 0.5
    if masked:
        order = real[:]
        rng.shuffle(order)
        masked2real = {f"model-{i + 1}": name for i, name in enumerate(order)}
        shown = {v: m for m, v in masked2real.items()}
    else:
        masked2real = None
        shown = {name: name for name in real}

    # The judgment: gold plus noise, some responses left out, some names invented.
    pred = {}
    noise = rng.choice([0.0, 0.5, 1.0, 2.0])
    for name in real:
        if rng.random() < 0.1:
            continue
        value = gold[name] + rng.gauss(0, noise) if noise else gold[name]
        value = int(round(min(5, max(1, value)))) if rng.random() < 0.6 else round(value, 2)
        pred[shown[name]] = value
    if rng.random() < 0.1:  # compressed: everything tied
        level = rng.randint(1, 5)
        pred = {n: level for n in pred}
    if rng.random() < 0.15:
        pred[f"model-{k + 1}" if masked else "extra-response"] = rng.randint(1, 5)
    if rng.random() < 0.1:
        pred = {n: str(v) for n, v in pred.items()}  # scores as strings
    ranking = sorted(pred, key=lambda n: -float(pred[n]))
    if rng.random() < 0.3 and len(ranking) > 1:
        i = rng.randrange(len(ranking) - 1)
        ranking[i], ranking[i + 1] = ranking[i + 1], ranking[i]
    if rng.random() < 0.1 and ranking:
        ranking = ranking[:-1]
    if rng.random() < 0.05 and ranking:
        ranking.append(ranking[0])

    judgment = {}
    shape = rng.random()
    if shape > 0.05:
        judgment["scores"] = pred
    ranking_key = "best-to-worse" if rng.random() < 0.08 else "best-to-worst"
    if rng.random() > 0.08:
        judgment[ranking_key] = ranking

    text = json.dumps(judgment, ensure_ascii=False, indent=rng.choice([None, None, 2]))
    wrap = rng.random()
    if wrap < 0.1:
        text = "```json\n" + text + "\n```"
    elif wrap < 0.18:
        text = "Here is my evaluation:\n" + text + "\nThat is all."
    elif wrap < 0.25:
        text = text.replace('"', "'")
    elif wrap < 0.3:
        text = text.replace("]", ",]").replace("}", ",}")
    elif wrap < 0.33:
        text = text[: rng.randrange(len(text))]  # cut off
    think = rng.random()
    reasoning = rng.choice(["a is best.", "The responses differ mainly in how closely they follow the principle; "
                            "the strongest one " + "is thorough " * rng.randint(1, 5),
                            "é" * rng.randint(20, 60)])
    if think < 0.6:
        output = f"<think>\n{reasoning}\n</think>\n\n{text}"
    elif think < 0.7:
        output = f"<think>\n{reasoning}\n{text}"
    elif think < 0.75:
        output = f"{reasoning}\n</think>\n{text}"
    else:
        output = text
    if index % 50 == 0:
        output = rng.choice(["", "I cannot decide.", "<think>\nstill thinking"])
    return {"output": output, "ground_truth": {"scores": gold}, **({"masked2real": masked2real} if masked else {})}


# ---- comparison ---------------------------------------------------------------------------------

CONFIGS = [
    ({"format_weight": 0.15, "accuracy_weight": 0.85, "think_terms": True, "pair_penalty": 0.4, "distribution": 0.1,
      "partial_credit": 0.2, "ranking_agreement": 0.3, "top_k": 1, "top_k_share": 0.5, "score_range": 4.0,
      "partial_credit_distance": 2.0}, []),
    ({"format_weight": 0.3, "accuracy_weight": 0.5, "think_terms": False, "pair_penalty": 1.0, "distribution": 0.5,
      "partial_credit": 0.25, "ranking_agreement": 2.0, "top_k": 2, "top_k_share": 0.25, "score_range": 3.0,
      "partial_credit_distance": 1.5},
     ["--format-weight", "0.3", "--accuracy-weight", "0.5", "--no-think-terms", "--pair-penalty-weight", "1",
      "--distribution-weight", "0.5", "--partial-credit-weight", "0.25", "--ranking-agreement-weight", "2",
      "--agreement-top-k", "2", "--top-k-share", "0.25", "--score-range", "3", "--partial-credit-distance", "1.5"]),
]


def upstream_scores(case):
    """Upstream's parsed scores under the real names; None where they are not all numbers."""
    result = upstream.parse_rewardanything_output(case["output"], case.get("masked2real"))
    scores = result.scores
    if not isinstance(scores, dict):
        return None
    out = {}
    for name, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            out[name] = float(value)
        except ValueError:
            return None
    return out


def compare(cases, grades, beyond_upstream, cfg, counts, failures):
    for index, (case, grade) in enumerate(zip(cases, grades)):
        gold = case["ground_truth"]["scores"]
        masked2real = case.get("masked2real")
        shown_gold = {m: gold[r] for m, r in masked2real.items()} if masked2real else gold

        def check(what, mine, expected):
            counts[what] = counts.get(what, 0) + 1
            if not abs(mine - expected) <= TOLERANCE:
                failures.append(f"case {index} {what}: precept {mine!r}, reference {expected!r}\n  {json.dumps(case)}")

        try:
            raw_format = upstream.format_reward(case["output"], json.dumps({"scores": shown_gold}))
        except Exception:  # upstream undefined here (it raises)
            raw_format = None
        if raw_format is not None:
            if cfg["think_terms"]:
                expected_format = raw_format
            else:
                expected_format = min(1.0, (raw_format - think_part(case["output"])) / 0.8)
            check("format", grade["format"], expected_format)
            format_terms = sum(v for n, v in grade["terms"].items() if n.startswith("format_"))
            check("format terms sum", min(1.0, format_terms), grade["format"])

        pred = upstream_scores(case)
        if pred is None or beyond_upstream[index]:  # precept's parser reads more than upstream's here
            counts["accuracy skipped (beyond upstream's parser)"] = counts.get(
                "accuracy skipped (beyond upstream's parser)", 0) + 1
            continue
        terms = reference_accuracy_terms(pred, gold, cfg)
        if terms is None:  # nothing usable: precept's accuracy terms are all 0
            for name in ("pair_penalty", "distribution", "partial_credit", "ranking_agreement"):
                check("unusable " + name, grade["terms"][name], 0.0)
            continue
        pair = upstream.calculate_weighted_pair_penalty(pred, gold)
        check("pair_penalty", grade["terms"]["pair_penalty"], pair)
        for name, value in terms.items():
            check(name, grade["terms"][name], value)
        weights = [cfg["pair_penalty"], cfg["distribution"], cfg["partial_credit"], cfg["ranking_agreement"]]
        values = [pair, terms["distribution"], terms["partial_credit"], terms["ranking_agreement"]]
        accuracy = sum(w * v for w, v in zip(weights, values)) / sum(weights)
        check("accuracy", grade["accuracy"], accuracy)
        if raw_format is not None:
            check("reward", grade["reward"], cfg["format_weight"] * expected_format + cfg["accuracy_weight"] * accuracy)
        counts["valid agrees"] = counts.get("valid agrees", 0) + 1
        if grade["valid"] != all(n in pred for n in gold):
            failures.append(f"case {index} valid: precept {grade['valid']}\n  {json.dumps(case)}")


def check_errors(precept, work):
    bad = work / "bad.jsonl"
    good = {"output": "{}", "ground_truth": {"scores": {"a": 1}}}
    expectations = [({"output": "{}"}, "ground_truth"),
                    ({"output": "{}", "ground_truth": {"scores": {"a": "x"}}}, "ground_truth.scores.a"),
                    ({"ground_truth": {"scores": {"a": 1}}}, "output"),
                    ({**good, "masked2real": {"model-1": 1}}, "masked2real.model-1")]
    problems = []
    for record, key in expectations:
        bad.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n")
        run = subprocess.run([precept, "judge", "--grade", str(bad)], capture_output=True, text=True)
        if run.returncode == 0 or f"{bad}:2" not in run.stderr or key not in run.stderr or run.stdout:
            problems.append(f"bad input {record}: exit {run.returncode}, stderr {run.stderr.strip()!r}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared")
    parser.add_argument("--cases", type=int, default=400)
    args = parser.parse_args()

    work = pathlib.Path(args.fixtures).resolve() / "judge_reward"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2506_03637)
    cases = [make_case(rng, i) for i in range(args.cases)]
    inputs = work / "cases.jsonl"
    inputs.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")

    # Where precept's parser reads what upstream's cannot (docs/judge.md), the accuracy terms have
    # no upstream scores to compare with; `precept judge --parse` says which cases those are.
    parsed = subprocess.run([args.precept, "judge", "--parse", str(inputs)], capture_output=True, text=True)
    if parsed.returncode != 0:
        print(f"FAILED: precept judge --parse exit {parsed.returncode}: {parsed.stderr}")
        return 1
    beyond_upstream = [json.loads(line)["beyond_upstream"] for line in parsed.stdout.splitlines()]
    if len(beyond_upstream) != len(cases):
        print(f"FAILED: --parse gave {len(beyond_upstream)} results for {len(cases)} cases")
        return 1

    failures = []
    for cfg, flags in CONFIGS:
        out = work / "grades.jsonl"
        run = subprocess.run([args.precept, "judge", "--grade", str(inputs), "-o", str(out), *flags],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"FAILED: precept judge --grade exit {run.returncode}: {run.stderr}")
            return 1
        grades = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        if len(grades) != len(cases):
            print(f"FAILED: {len(grades)} grades for {len(cases)} cases")
            return 1
        counts = {}
        compare(cases, grades, beyond_upstream, cfg, counts, failures)
        label = "default config" if not flags else "config " + " ".join(flags)
        print(f"{label}:")
        for what, count in counts.items():
            print(f"  {count} cases compared: {what}")
        for what in ("format", "pair_penalty", "distribution", "partial_credit", "ranking_agreement", "accuracy",
                     "reward"):
            if counts.get(what, 0) < MIN_COMPARED:
                failures.append(f"{label}: only {counts.get(what, 0)} cases compared for {what} (need {MIN_COMPARED})")

    failures += check_errors(args.precept, work)
    if failures:
        print(f"FAILED: {len(failures)} differences")
        for line in failures[:30]:
            print(line)
        return 1
    print(f"OK: {len(cases)} cases, every compared value within {TOLERANCE}; bad input names file:line and key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
