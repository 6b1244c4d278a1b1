"""precept's GRPO math against TRL/veRL formulas in numpy and against torch / transformers.

Writes <fixtures>/grpo/{cases.json, tensors.safetensors} with tests/fixtures/make_grpo_fixtures.py
(advantages, KL estimators, the clipped policy loss in every aggregation mode with its gradients,
the overlong penalty and log-softmax in numpy float64; transformers' LR schedules under torch's
LambdaLR; torch.optim.AdamW with clip_grad_norm_), then runs
  precept_tests --gtest_filter=GrpoFixtures.*
(found next to the --precept binary) with PRECEPT_GRPO_FIXTURES set. The gtests compare (1e-6 for
fp32 math against float64, bit for bit for the LR doubles and AdamW) and print what they compared.
Fails unless each of the eight GrpoFixtures gtests ran to completion and passed.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "fixtures"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
import make_grpo_fixtures  # noqa: E402
from gtest_runner import run_gtests  # noqa: E402

EXPECTED = {f"GrpoFixtures.{name}" for name in (
    "AdvantagesMatchNumpyReference", "KlEstimatorsAndGradientsMatchNumpyReference",
    "PolicyLossMatchesNumpyReferenceInEveryMode", "OverlongPenaltyMatchesDapoFormula",
    "ChunkedLogprobsMatchFloat64LogSoftmax", "LrSchedulesEqualTransformersExactly", "AdamWEqualsTorchBitForBit",
    "AdamWOnViewsOfAFlatBufferEqualsTorch")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True, help="the precept binary; precept_tests is next to it")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared", required=False)
    args = parser.parse_args()

    out, document = make_grpo_fixtures.make(pathlib.Path(args.fixtures).resolve() / "grpo")
    print(f"wrote {', '.join(f'{len(v)} {k}' for k, v in document.items() if isinstance(v, list))} cases to {out}")

    return run_gtests(args.precept, "GrpoFixtures.*", {"PRECEPT_GRPO_FIXTURES": str(out)}, EXPECTED, out)


if __name__ == "__main__":
    sys.exit(main())
