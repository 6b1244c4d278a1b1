"""precept's PPO math (trainer/gae.h) against a numpy port of veRL's formulas.

Writes <fixtures>/gae/{cases.json, tensors.safetensors} with tests/fixtures/make_gae_fixtures.py
(GAE and returns with masked recursion, masked whitening, the clipped value loss under every
aggregation with its gradient, explained variance, per-token rewards, the adaptive KL
controller), then runs precept_tests --gtest_filter=GaeFixtures.* with PRECEPT_GAE_FIXTURES set,
and fails unless each of the three gtests ran to completion (a skip or an empty filter fails).
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "fixtures"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
import make_gae_fixtures  # noqa: E402
from gtest_runner import run_gtests  # noqa: E402

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
    return run_gtests(args.precept, "GaeFixtures.*", {"PRECEPT_GAE_FIXTURES": str(out)}, EXPECTED, out)


if __name__ == "__main__":
    sys.exit(main())
