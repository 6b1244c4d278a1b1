"""Runs gtests of precept_tests that read fixtures from an environment variable, and fails unless
exactly the expected ones ran to completion and passed: the exit code alone would also pass
when the filter matched nothing or the cases skipped (GTEST_SKIP when the variable is unset).
Used by the tests/check_*.py scripts that make fixtures for gtests."""
import json
import os
import pathlib
import subprocess
import sys


def run_gtests(precept, gtest_filter, env, expected, report_dir):
    """precept: the precept binary (precept_tests is beside it). env: extra environment.
    expected: the full names ("Suite.Name") that must run and pass. Returns 0 or 1."""
    return run_gtests_with_output(precept, gtest_filter, env, expected, report_dir)[0]


def run_gtests_with_output(precept, gtest_filter, env, expected, report_dir):
    """run_gtests, returning (0 or 1, the gtests' stdout) for checks that read what they print."""
    tests = pathlib.Path(precept).resolve().parent / "precept_tests"
    if not tests.exists():
        print(f"{tests} does not exist; build the precept_tests target")
        return 1, ""
    report = pathlib.Path(report_dir) / "gtest_report.json"
    report.unlink(missing_ok=True)
    result = subprocess.run([str(tests), f"--gtest_filter={gtest_filter}", f"--gtest_output=json:{report}"],
                            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1", **env})
    print(result.stdout[-20000:])
    print(result.stderr[-5000:], file=sys.stderr)
    passed = set()
    if report.exists():
        for suite in json.loads(report.read_text()).get("testsuites", []):
            for case in suite.get("testsuite", []):
                if case.get("result") == "COMPLETED" and case.get("status") == "RUN" and not case.get("failures"):
                    passed.add(f"{suite['name']}.{case['name']}")
    print(f"gtests passed to completion: {sorted(passed)}")
    if result.returncode != 0 or passed != set(expected):
        print(f"FAILED: gtest exit {result.returncode}; expected exactly {sorted(expected)} to run and pass")
        return 1, result.stdout
    return 0, result.stdout
