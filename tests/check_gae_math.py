"""precept's PPO math (trainer/gae.h) against a numpy port of veRL's formulas.

Writes <fixtures>/gae/{cases.json, tensors.safetensors} with tests/fixtures/make_gae_fixtures.py
(GAE and returns with masked recursion, masked whitening, the clipped value loss under every
aggregation with its gradient, explained variance, per-token rewards, the adaptive KL
controller), then runs precept_tests --gtest_filter=GaeFixtures.* with PRECEPT_GAE_FIXTURES set,
and fails unless each of the three gtests ran to completion (a skip or an empty filter fails).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "fixtures"))
import make_gae_fixtures  # noqa: E402

EXPECTED = {"GaeFixtures.AdvantagesReturnsAndWhiteningMatchVerl", "GaeFixtures.ValueLossAndGradientMatchVerl",
            "GaeFixtures.TokenRewardsAndAdaptiveKlMatchVerl"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True, help="the precept binary; precept_tests is next to it")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared", required=False)
    args = parser.parse_args()

    out, cases = make_gae_fixtures.make(pathlib.Path(args.fixtures).resolve() / "gae")
    print(f"wrote {', '.join(f'{len(v)} {k}' for k, v in cases.items())} cases to {out}")
    tests = pathlib.Path(args.precept).resolve().parent / "precept_tests"
    if not tests.exists():
        print(f"{tests} does not exist; build the precept_tests target")
        return 1
    report = out / "gtest_report.json"
    result = subprocess.run([str(tests), "--gtest_filter=GaeFixtures.*", f"--gtest_output=json:{report}"],
                            capture_output=True, text=True,
                            env={**os.environ, "PRECEPT_GAE_FIXTURES": str(out), "OMP_NUM_THREADS": "1"})
    print(result.stdout[-20000:])
    print(result.stderr[-5000:], file=sys.stderr)
    ran = set()
    if report.exists():
        for suite in json.loads(report.read_text()).get("testsuites", []):
            for case in suite.get("testsuite", []):
                if case.get("result") == "COMPLETED" and case.get("status") == "RUN" and not case.get("failures"):
                    ran.add(f"{suite['name']}.{case['name']}")
    print(f"gtests passed to completion: {sorted(ran)}")
    if result.returncode != 0 or ran != EXPECTED:
        print(f"FAILED: gtest exit {result.returncode}; expected exactly {sorted(EXPECTED)} to run and pass")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
