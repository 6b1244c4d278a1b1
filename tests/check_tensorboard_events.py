#!/usr/bin/env python3
"""precept's hand-written TensorBoard event files, read back with the `tensorboard` package.

Runs  precept_tests --gtest_filter=MetricsTensorBoardExport.*  (found next to the --precept
binary) with PRECEPT_TENSORBOARD_OUT set; the C++ test writes two runs with trainer::MetricsLogger
("fresh": scalars with float32 rounding, NaN, infinities, a unicode tag, text samples; "resumed": a
crashed run resumed from step 5) and expected.json, the values it logged. Then, for each run:
  * every record's framing and both masked CRC32Cs, checked with tensorboard's own crc32c;
  * every record parses as tensorboard.Event, and protobuf re-serializes it to the same bytes
    (the hand encoding is canonical); the first record of each file is file_version brain.Event:2;
  * each text event equals, byte for byte, an Event around tensorboard's own text_pb summary;
  * EventAccumulator (purging off, so precept's own resume truncation is what is tested) sees
    exactly the logged tags, and for each the logged steps, wall times (exact) and values
    (float32 of the logged double, exact; NaN as NaN);
  * metrics.jsonl holds the same steps, times and values (doubles, exact; non-finite as null).
Exit status non-zero on any difference.
"""
import argparse
import json
import math
import pathlib
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
from gtest_runner import run_gtests  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.plugins.text.summary_v2 import text_pb
from tensorboard.util import tensor_util

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def records_of(path):
    """The data of every record, checking lengths and both masked CRCs."""
    data = path.read_bytes()
    records = []
    at = 0
    while at < len(data):
        if not check(len(data) - at >= 12, f"{path.name}: header cut off at byte {at}"):
            break
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        check(header_crc == masked_crc32c(header), f"{path.name}: wrong length CRC at byte {at}")
        body = data[at + 12:at + 12 + length]
        if not check(len(body) == length and len(data) >= at + 16 + length, f"{path.name}: record cut off at {at}"):
            break
        (body_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        check(body_crc == masked_crc32c(body), f"{path.name}: wrong data CRC at byte {at}")
        records.append(body)
        at += 16 + length
    return records


def as_double(text):
    return float(text)  # "nan", "inf", "-inf" or 17 significant digits: exact


def same_float32(read, logged):
    with np.errstate(over="ignore"):  # 1e300 becomes inf in float32, as in the file
        expected = np.float32(logged)
    return (math.isnan(read) and np.isnan(expected)) or np.float32(read) == expected


def check_run(run, expected):
    files = sorted(p for p in run.iterdir() if "tfevents" in p.name)
    check(len(files) >= 1, f"{run.name}: no event file")
    texts = {}
    for path in files:
        records = records_of(path)
        for index, body in enumerate(records):
            event = event_pb2.Event.FromString(body)
            check(event.SerializeToString(deterministic=True) == body,
                  f"{path.name} record {index}: protobuf writes other bytes for the same Event")
            if index == 0:
                check(event.file_version == "brain.Event:2", f"{path.name}: first record is not file_version")
            for value in event.summary.value:
                if value.HasField("tensor"):
                    markdown = tensor_util.make_ndarray(value.tensor).item().decode("utf-8")
                    reference = event_pb2.Event(wall_time=event.wall_time, step=event.step,
                                                summary=text_pb(value.tag, markdown)).SerializeToString()
                    check(reference == body, f"{path.name} record {index}: text event differs from text_pb's")
                    texts.setdefault(value.tag, []).append([event.step, event.wall_time, markdown])

    accumulator = event_accumulator.EventAccumulator(
        str(run), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0},
        purge_orphaned_data=False)
    accumulator.Reload()
    tags = accumulator.Tags()
    check(sorted(tags["scalars"]) == sorted(expected["scalars"]),
          f"{run.name}: scalar tags {sorted(tags['scalars'])} != {sorted(expected['scalars'])}")
    compared = 0
    for tag, logged in expected["scalars"].items():
        if tag not in tags["scalars"]:
            continue
        read = accumulator.Scalars(tag)
        check([e.step for e in read] == [s for s, _, _ in logged],
              f"{run.name}/{tag}: steps {[e.step for e in read]} != {[s for s, _, _ in logged]}")
        for event, (step, time, value) in zip(read, logged):
            compared += 1
            check(event.wall_time == time, f"{run.name}/{tag} step {step}: wall_time {event.wall_time!r} != {time!r}")
            check(same_float32(event.value, as_double(value)),
                  f"{run.name}/{tag} step {step}: value {event.value!r} != float32({value})")
    check(sorted(tags["tensors"]) == sorted(expected["texts"]),
          f"{run.name}: text tags {sorted(tags['tensors'])} != {sorted(expected['texts'])}")
    for tag, logged in expected["texts"].items():
        read = [[e.step, e.wall_time, tensor_util.make_ndarray(e.tensor_proto).item().decode("utf-8")]
                for e in accumulator.Tensors(tag)] if tag in tags["tensors"] else []
        check(read == logged, f"{run.name}/{tag}: texts read back differ from those logged")
        check(texts.get(tag) == logged, f"{run.name}/{tag}: texts in the files differ from those logged")

    # metrics.jsonl: one object per step, the same numbers as doubles.
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    by_step = {line["step"]: line for line in lines}
    check(len(by_step) == len(lines), f"{run.name}: metrics.jsonl repeats a step")
    for tag, logged in expected["scalars"].items():
        for step, time, value in logged:
            line = by_step.get(step, {})
            number = as_double(value)
            want = number if math.isfinite(number) else None
            check(line.get("time") == time and tag in line and line[tag] == want,
                  f"{run.name}: metrics.jsonl step {step} {tag}: {line.get(tag)!r} != {want!r}")
    return compared, sum(len(v) for v in expected["texts"].values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True, help="the precept binary; precept_tests is next to it")
    parser.add_argument("--fixtures")
    parser.add_argument("--shared")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        out = pathlib.Path(scratch) / "runs"
        code = run_gtests(args.precept, "MetricsTensorBoardExport.*", {"PRECEPT_TENSORBOARD_OUT": str(out)},
                          ["MetricsTensorBoardExport.WritesRunsForTheTensorBoardCheck"], scratch)
        if code != 0 or not (out / "expected.json").exists():
            print("FAILED: the C++ export test did not run to completion and write the runs")
            return 1
        expected = json.loads((out / "expected.json").read_text())
        for name in ("fresh", "resumed"):
            scalars, texts = check_run(out / name, expected[name])
            print(f"{name}: {scalars} scalars and {texts} texts compared")
        if failures:
            for failure in failures[:50]:
                print("MISMATCH", failure)
            print(f"FAILED: {len(failures)} differences")
            return 1
    print("OK: event files read back by TensorBoard with the logged tags, steps, wall times and float32 values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
