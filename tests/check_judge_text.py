#!/usr/bin/env python3
"""precept's judge text layer against the upstream `rewardanything` 1.0.1 package.

Writes <fixtures>/judge/judge_fixtures.json with tests/fixtures/make_judge_fixtures.py (upstream's
prompt construction rendered with the real Qwen3 template through transformers, upstream's parser
on a corpus of messy judge outputs, json.dumps on generated strings), then runs
  precept_tests --gtest_filter=JudgeFixtures.*
(found next to the --precept binary) with PRECEPT_JUDGE_FIXTURES set. The gtests compare and
print the counts. Exit status: non-zero unless every count is complete.
"""
import argparse
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "fixtures"))
import make_judge_fixtures  # noqa: E402
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
from gtest_runner import run_gtests_with_output  # noqa: E402

EXPECTED = ["JudgeFixtures.ParserAgreesWithUpstream", "JudgeFixtures.Prompts", "JudgeFixtures.PythonJsonStrings",
            "JudgeFixtures.UpstreamTextSteps"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True, help="the precept binary; precept_tests is next to it")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared", required=True)
    args = parser.parse_args()

    source_dir = pathlib.Path(__file__).resolve().parents[1]
    path, document = make_judge_fixtures.make(pathlib.Path(args.fixtures).resolve(),
                                              pathlib.Path(args.shared).resolve(), source_dir)
    print(f"wrote {len(document['prompt_cases'])} prompt cases, {len(document['parser_cases'])} parser cases and "
          f"{len(document['json_strings'])} JSON strings to {path}")

    code, stdout = run_gtests_with_output(args.precept, "JudgeFixtures.*", {"PRECEPT_JUDGE_FIXTURES": str(path)},
                                          EXPECTED, pathlib.Path(args.fixtures))
    counts = [(int(a), int(b)) for a, b in re.findall(r"^(\d+)/(\d+) ", stdout, re.MULTILINE)]
    parser_line = re.search(r"on (\d+) outputs: (\d+) agree, (\d+) differ as declared", stdout)
    complete = (len(counts) == 3 and all(a == b for a, b in counts) and parser_line is not None
                and int(parser_line[2]) + int(parser_line[3]) == int(parser_line[1]))
    if code != 0 or not complete:
        print(f"FAILED: gtest exit {code}, counts {counts}, parser {parser_line and parser_line.groups()}")
        return 1
    print("OK: prompts byte-equal, JSON strings equal, parser agrees with upstream except where declared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
