"""Plain `ctest` must run every gtest it registers, never skip one (issue 20). The gtests that
compare against references a Python check makes at test time are listed in
tests/wrapped_gtests.txt: CMakeLists.txt leaves them out of CTest's registry, and each runs under
its check. This keeps the three in agreement:
  - every pattern of the list matches gtests that exist (a renamed suite would otherwise be
    silently run by nobody);
  - no registered CTest test matches a pattern, and every gtest is either registered or listed;
  - the check named for a pattern exists and runs that suite through tests/support/gtest_runner.py,
    which fails unless the cases ran to completion.
"""
import argparse
import fnmatch
import pathlib
import re
import subprocess
import sys

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True, help="the precept binary; precept_tests is next to it")
    parser.add_argument("--fixtures")
    parser.add_argument("--shared")
    args = parser.parse_args()
    build = pathlib.Path(args.precept).resolve().parent
    tests_dir = pathlib.Path(__file__).resolve().parent

    wrapped = []
    for line in (tests_dir / "wrapped_gtests.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            pattern, script = line.split()
            wrapped.append((pattern, script))
    check(len(wrapped) > 0, f"tests/wrapped_gtests.txt lists {len(wrapped)} patterns")

    listing = subprocess.run([str(build / "precept_tests"), "--gtest_list_tests"], capture_output=True, text=True,
                             check=True).stdout
    gtests, suite = [], None
    for line in listing.splitlines():
        if not line.startswith(" "):
            suite = line.strip().rstrip(".")
        elif suite:
            # CMake names a parameterised case by its value where gtest numbers it (/0 -> /"llama").
            name, _, comment = line.partition("#")
            name = name.strip()
            value = re.search(r"GetParam\(\) = (.*)$", comment)
            if value and re.search(r"/\d+$", name):
                name = re.sub(r"/\d+$", "/" + value[1].strip(), name)
            gtests.append(f"{suite}.{name}")
    registered = set()
    for line in subprocess.run(["ctest", "-N"], cwd=build, capture_output=True, text=True, check=True).stdout.splitlines():
        found = re.match(r"\s*Test\s+#\d+: (\S+)", line)
        if found:
            registered.add(found[1])
    check(len(gtests) > 100 and len(registered) > 100,
          f"precept_tests lists {len(gtests)} gtests, ctest -N registers {len(registered)} tests")

    def is_wrapped(name):
        return any(fnmatch.fnmatchcase(name, pattern) for pattern, _ in wrapped)

    for pattern, script in wrapped:
        matched = [name for name in gtests if fnmatch.fnmatchcase(name, pattern)]
        check(len(matched) > 0, f"{pattern} matches {len(matched)} gtests")
        in_ctest = [name for name in matched if name in registered]
        check(not in_ctest, f"{pattern}: none registered on its own in CTest (found {in_ctest[:3]})")
        source = tests_dir / script
        text = source.read_text() if source.exists() else ""
        suite_name = pattern.split(".")[0]
        runs_it = "run_gtests" in text and re.search(rf'["\']{re.escape(suite_name)}\.', text) is not None
        check(runs_it, f"{pattern} is run by tests/{script} through gtest_runner")
    missing = [name for name in gtests if not is_wrapped(name) and name not in registered]
    check(not missing, f"every other gtest is registered in CTest ({len(missing)} missing: {missing[:5]})")
    if failures:
        print(f"FAILED: {len(failures)} checks")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
