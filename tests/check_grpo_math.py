"""precept's GRPO math against TRL/veRL formulas in numpy and against torch / transformers.

Writes <fixtures>/grpo/{cases.json, tensors.safetensors} with tests/fixtures/make_grpo_fixtures.py
(advantages, KL estimators, the clipped policy loss in every aggregation mode with its gradients,
the overlong penalty and log-softmax in numpy float64; transformers' LR schedules under torch's
LambdaLR; torch.optim.AdamW with clip_grad_norm_), then runs
  precept_tests --gtest_filter=GrpoFixtures.*
(found next to the --precept binary) with PRECEPT_GRPO_FIXTURES set. The gtests compare (1e-6 for
fp32 math against float64, bit for bit for the LR doubles and AdamW) and print what they compared.
Exit status: the test binary's.
"""
import argparse
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "fixtures"))
import make_grpo_fixtures  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True, help="the precept binary; precept_tests is next to it")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared", required=False)
    args = parser.parse_args()

    out, document = make_grpo_fixtures.make(pathlib.Path(args.fixtures).resolve() / "grpo")
    print(f"wrote {', '.join(f'{len(v)} {k}' for k, v in document.items() if isinstance(v, list))} cases to {out}")

    tests = pathlib.Path(args.precept).resolve().parent / "precept_tests"
    if not tests.exists():
        print(f"{tests} does not exist; build the precept_tests target")
        return 1
    result = subprocess.run([str(tests), "--gtest_filter=GrpoFixtures.*"], capture_output=True, text=True,
                            env={**os.environ, "PRECEPT_GRPO_FIXTURES": str(out), "OMP_NUM_THREADS": "1"})
    print(result.stdout[-20000:])
    print(result.stderr[-5000:], file=sys.stderr)
    if result.returncode != 0 or "[  SKIPPED ]" in result.stdout or "[  PASSED  ]" not in result.stdout:
        print(f"FAILED: gtest exit {result.returncode}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
