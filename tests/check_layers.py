"""The build enforces the layer graph (docs/architecture.md): a layer's sources compile against an
include root holding only the layers below it, so including a higher layer fails.

For each layer this takes the real compile command of one of its sources from
build/compile_commands.json, preprocesses a probe file with it, and checks that an include of a
higher layer fails (naming the header) while an include of an allowed lower layer works.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

parser = argparse.ArgumentParser()
parser.add_argument("--precept", required=True)
parser.add_argument("--fixtures", required=True)
parser.add_argument("--shared")
args = parser.parse_args()
build = os.path.dirname(os.path.abspath(args.fixtures))
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
commands = json.load(open(os.path.join(build, "compile_commands.json")))

# (layer folder, header it must not see, header it must see)
CASES = [
    ("core", "text/tokenizer.h", "core/files.h"),
    ("text/jinja", "text/chat_template.h", "core/python_strings.h"),
    ("text", "lm/transformer.h", "text/jinja/jinja.h"),
    ("data", "text/jinja/value.h", "text/chat_template.h"),
    ("lm", "trainer/config.h", "text/tokenizer.h"),
    ("lm", "rollout/generator.h", "core/files.h"),
    ("policy", "rollout/generator.h", "lm/transformer.h"),
    ("rollout", "reward/reward.h", "lm/pretrained.h"),
    ("reward", "trainer/config.h", "rollout/generator.h"),
    ("reward", "text/jinja/jinja.h", "text/chat_template.h"),
    ("trainer/optim", "trainer/dist/communicator.h", "core/files.h"),
    ("trainer/dist", "trainer/config.h", "trainer/optim/adamw.h"),
    ("trainer", "apps/commands/commands.h", "reward/reward.h"),
]

failures = checked = 0


def check(ok, message):
    global failures, checked
    checked += 1
    failures += not ok
    print(("ok   " if ok else "FAIL ") + message, flush=True)


def command_for(layer):
    folder = os.path.join(root, layer) + os.sep
    for entry in commands:
        source = os.path.abspath(os.path.join(entry["directory"], entry["file"]))
        if source.startswith(folder) and os.path.dirname(source) == folder.rstrip(os.sep) and source.endswith(".cpp"):
            return entry
    return None


def preprocess(entry, include):
    with tempfile.TemporaryDirectory() as work:
        probe = os.path.join(work, "probe.cpp")
        with open(probe, "w") as out:
            out.write(f'#include "{include}"\n')
        words = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
        kept, skip = [], False
        for word in words:
            if skip:
                skip = False
                continue
            if word in ("-o", "-MF", "-MT", "-include", "-c"):
                skip = word != "-c"
                continue
            if word in ("-MD", "-Winvalid-pch") or word.endswith(entry["file"]) or word.endswith(".cpp"):
                continue
            kept.append(word)
        # The launcher (cmake -E env ... ccache) is dropped: run the compiler itself.
        compiler = next(i for i, w in enumerate(kept) if w.endswith(("c++", "g++", "clang++")))
        command = kept[compiler:] + ["-E", "-o", os.devnull, probe]
        return subprocess.run(command, cwd=entry["directory"], capture_output=True, text=True)


for layer, forbidden, allowed in CASES:
    entry = command_for(layer)
    if entry is None:
        check(False, f"{layer}/: no compile command found in compile_commands.json")
        continue
    result = preprocess(entry, forbidden)
    check(result.returncode != 0 and forbidden in result.stderr,
          f"{layer}/ cannot include {forbidden} (the compiler says: "
          f"{result.stderr.strip().splitlines()[0][:100] if result.stderr.strip() else 'nothing'})")
    result = preprocess(entry, allowed)
    check(result.returncode == 0, f"{layer}/ can include {allowed}" + ("" if result.returncode == 0 else ": " + result.stderr[:300]))

print(f"{checked - failures} passed, {failures} failed")
sys.exit(1 if failures or checked < 2 * len(CASES) else 0)
