#!/usr/bin/env python3
"""Seed corpora for the libFuzzer harnesses of fuzz/, made at run time from the real files in
../shared and the repository's own recipes, principles and prompt files (docs/fuzzing.md).

Nothing here is committed: scripts/fuzz.sh calls this into its build directory. Besides the
files as they are, it writes small files derived from them (a GGUF or safetensors file cut down
to its smallest tensors and shortest arrays, JSONL files of a few lines, datasets rewritten in
the shape precept reads), because libFuzzer mutates a 5 KB input far more usefully than a 2 MB
one. Standard library only: it runs before anything is installed but python3.
"""

import argparse
import json
import pathlib
import struct
import sys

MAX_SEED_BYTES = 256 * 1024


def write(out: pathlib.Path, name: str, data) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    (out / name).write_bytes(data)


def slug(path: pathlib.Path, root: pathlib.Path) -> str:
    return str(path.relative_to(root)).replace("/", "__")


def jsonl_lines(path: pathlib.Path, count: int):
    lines = []
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                lines.append(line.rstrip("\n"))
            if len(lines) >= count:
                break
    return lines


def shared_jsonl(shared: pathlib.Path):
    return sorted(p for p in (shared / "datasets").rglob("*.jsonl") if p.is_file())


# ---- safetensors -------------------------------------------------------------------------------

def safetensors_seeds(shared, repo, out):
    for path in sorted(shared.rglob("*.safetensors")):
        data = path.read_bytes()
        name = slug(path, shared)
        if len(data) <= MAX_SEED_BYTES:
            write(out, name, data)
        (header_len,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + header_len])
        write(out, name + ".header_only", data[:8 + header_len])
        # The four smallest tensors with their real bytes, offsets renumbered: a valid small file.
        tensors = [(k, v) for k, v in header.items() if k != "__metadata__"]
        tensors.sort(key=lambda kv: kv[1]["data_offsets"][1] - kv[1]["data_offsets"][0])
        small = {"__metadata__": header["__metadata__"]} if "__metadata__" in header else {}
        body = b""
        for key, entry in tensors[:4]:
            begin, end = entry["data_offsets"]
            chunk = data[8 + header_len + begin:8 + header_len + end]
            small[key] = {"dtype": entry["dtype"], "shape": entry["shape"],
                          "data_offsets": [len(body), len(body) + len(chunk)]}
            body += chunk
        text = json.dumps(small).encode()
        write(out, name + ".small", struct.pack("<Q", len(text)) + text + body)


# ---- GGUF --------------------------------------------------------------------------------------

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class GgufReader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value[0]

    def string(self):
        n = self.take("<Q")
        text = self.data[self.at:self.at + n]
        self.at += n
        return text

    def value(self, kind):
        if kind == 8:
            return self.string()
        if kind == 9:
            element, count = self.take("<I"), self.take("<Q")
            return (element, [self.value(element) for _ in range(count)])
        return self.take(_SCALARS[kind])


def gguf_value_bytes(kind, value, keep):
    if kind == 8:
        return struct.pack("<Q", len(value)) + value
    if kind == 9:
        element, items = value
        items = items[:keep]
        return struct.pack("<IQ", element, len(items)) + b"".join(gguf_value_bytes(element, v, keep) for v in items)
    return struct.pack(_SCALARS[kind], value)


def gguf_small(data, keep_items=16, max_tensor_bytes=4096):
    """The file with every array cut to keep_items elements and only its tensors of at most
    max_tensor_bytes, their bytes copied: small, and still one the reader accepts."""
    r = GgufReader(data)
    magic, version = r.take("<I"), r.take("<I")
    tensor_count, kv_count = r.take("<Q"), r.take("<Q")
    metadata, alignment = [], 32
    for _ in range(kv_count):
        key = r.string()
        kind = r.take("<I")
        value = r.value(kind)
        if key == b"general.alignment":
            alignment = value
        metadata.append((key, kind, value))
    infos = []
    for _ in range(tensor_count):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        infos.append((name, dims, r.take("<I"), r.take("<Q")))
    data_start = (r.at + alignment - 1) // alignment * alignment
    ends = sorted(offset for *_, offset in infos) + [len(data) - data_start]
    kept = []
    for name, dims, kind, offset in infos:
        size = min(e for e in ends if e > offset) - offset if any(e > offset for e in ends) else 0
        if 0 < size <= max_tensor_bytes:
            kept.append((name, dims, kind, data[data_start + offset:data_start + offset + size]))
    head = struct.pack("<IIQQ", magic, version, len(kept), len(metadata))
    for key, kind, value in metadata:
        head += gguf_value_bytes(8, key, keep_items) + struct.pack("<I", kind) + gguf_value_bytes(kind, value, keep_items)
    body, offsets = b"", []
    for *_, blob in kept:
        body += b"\0" * ((-len(body)) % alignment)
        offsets.append(len(body))
        body += blob
    for (name, dims, kind, _), offset in zip(kept, offsets):
        head += gguf_value_bytes(8, name, 0) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", kind, offset)
    head += b"\0" * ((-len(head)) % alignment)
    return head + body


def gguf_seeds(shared, repo, out):
    for path in sorted(shared.rglob("*.gguf")):
        data = path.read_bytes()
        name = slug(path, shared)
        write(out, name, data)  # as it is; -max_len keeps only its head for mutation
        try:
            write(out, name + ".small", gguf_small(data))
        except (struct.error, KeyError, ValueError) as error:
            print(f"[fuzz seeds] {path}: no small copy ({error})", file=sys.stderr)


# ---- tokenizer.json ----------------------------------------------------------------------------

def tokenizer_seeds(shared, repo, out):
    for path in sorted(shared.rglob("tokenizer.json")):
        write(out, slug(path, shared), path.read_bytes())


# ---- TOML --------------------------------------------------------------------------------------

def recipe_seeds(shared, repo, out):
    for path in sorted((repo / "recipes").glob("*.toml")):
        write(out, path.name, path.read_bytes())


def toml_string(text):
    # A JSON string with ensure_ascii=False escapes only what TOML's basic strings also escape.
    return json.dumps(text, ensure_ascii=False)


def principle_seeds(shared, repo, out):
    for path in sorted((repo / "configs" / "principles").glob("*.toml")):
        write(out, path.name, path.read_bytes())
    # The principle collections of ../shared (JSON), written as precept's principle files.
    for path in sorted((shared / "datasets" / "principles").rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        items = data if isinstance(data, list) else []
        for i, item in enumerate(items[:6]):
            if isinstance(item, dict) and isinstance(item.get("definition"), str):
                text = f'name = {toml_string(str(item.get("dimension", "principle")))}\n' \
                       f'text = {toml_string(item["definition"])}\n'
                if isinstance(item.get("negative_definition"), str):
                    text += f'description = {toml_string(item["negative_definition"])}\n'
                write(out, f"{slug(path, shared)}.{i}.toml", text)


# ---- chat templates ----------------------------------------------------------------------------

def chat_template_seeds(shared, repo, out):
    for path in sorted(shared.rglob("*.jinja")):
        write(out, slug(path, shared), path.read_bytes())
    for path in sorted(shared.rglob("tokenizer_config*.json")):
        try:
            template = json.loads(path.read_text(encoding="utf-8")).get("chat_template")
        except ValueError:
            continue
        if isinstance(template, str):
            write(out, slug(path, shared) + ".jinja", template)
        elif isinstance(template, list):
            for entry in template:
                if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                    write(out, f'{slug(path, shared)}.{entry.get("name", "t")}.jinja', entry["template"])


# ---- judge outputs -----------------------------------------------------------------------------

def listwise_cases(shared):
    """(principle, prompt, {name: text}, {name: score}) from the listwise datasets of ../shared."""
    cases = []
    prometheus = shared / "datasets" / "prometheus-eval" / "listwise_vicuna_eval.jsonl"
    if prometheus.exists():
        for line in jsonl_lines(prometheus, 12):
            r = json.loads(line)
            names = [f"{s}" for s in r.get("response_sources", [])]
            if len(names) == len(r.get("responses", [])) == len(r.get("scores", [])) and len(set(names)) == len(names):
                cases.append((str(r["id"]), r["principle"], r["prompt"], dict(zip(names, r["responses"])),
                              dict(zip(names, r["scores"])), r.get("category")))
    alpaca = shared / "datasets" / "alpacaeval" / "listwise_gpt4turbo_judged_12gen.jsonl"
    if alpaca.exists():
        for line in jsonl_lines(alpaca, 12):
            r = json.loads(line)
            names = r.get("generators", [])[:4]
            if len(names) >= 2 and len(set(names)) == len(names):
                cases.append((str(r["id"]), "Prefer the most helpful answer.", r["instruction"],
                              dict(zip(names, r["responses"])), dict(zip(names, r["scores"])), r.get("dataset")))
    return cases


def judge_output_seeds(shared, repo, out):
    # Outputs in RewardAnything's shape (reference/REWARDANYTHING.md, "Output") for the gold
    # scores of real listwise cases, under the masked names the harness shows, then variants
    # that need each of upstream's repairs.
    for i, (_, principle, prompt, responses, scores, _) in enumerate(listwise_cases(shared)[:8]):
        shown = {f"model-{j + 1}": float(s) * 5 if float(s) <= 1 else float(s) for j, s in enumerate(scores.values())}
        ranking = sorted(shown, key=lambda k: -shown[k])
        thought = f"The principle: {principle[:200]} The prompt asks: {prompt[:200]}"
        body = json.dumps({"scores": shown, "best-to-worst": ranking})
        write(out, f"case{i}.txt", f"<think>\n{thought}\n</think>\n\n{body}")
        write(out, f"case{i}.fenced.txt", f"<think>{thought}</think>\n```json\n{body}\n```")
        single = body.replace('"', "'").replace("best-to-worst", "best-to-worse")
        write(out, f"case{i}.repair.txt", f"{thought}</think>\n{single[:-1]},}}")
        write(out, f"case{i}.cut.txt", f"<think>{thought}</think>\nHere: {body[: len(body) * 2 // 3]}")
    reference = shared / "reference" / "REWARDANYTHING.md"
    if reference.exists():
        write(out, "REWARDANYTHING.md", reference.read_bytes()[:MAX_SEED_BYTES])


# ---- JSONL -------------------------------------------------------------------------------------

def prompt_seeds(shared, repo, out):
    for path in sorted((repo / "recipes" / "data").glob("*.jsonl")):
        write(out, path.name, "\n".join(jsonl_lines(path, 20)) + "\n")
    for path in shared_jsonl(shared):
        lines = jsonl_lines(path, 4)
        text = "\n".join(lines) + "\n"
        if len(text) <= MAX_SEED_BYTES:
            write(out, slug(path, shared), text)
        # The same records with their "prompt" as a chat, the other form read_prompts_jsonl takes.
        chats = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("prompt"), str):
                record["prompt"] = [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": record["prompt"][:2000]}]
                chats.append(json.dumps(record, ensure_ascii=False)[:8000])
        if chats:
            write(out, slug(path, shared) + ".chat", "\n".join(chats) + "\n")


def listwise_seeds(shared, repo, out):
    cases = listwise_cases(shared)
    for start in range(0, len(cases), 3):
        lines = []
        for case_id, principle, prompt, responses, scores, category in cases[start:start + 3]:
            ranking = sorted(scores, key=lambda k: -scores[k])
            record = {"id": case_id, "principle": principle, "prompt": prompt[:2000],
                      "responses": {k: v[:1500] for k, v in responses.items()},
                      "ground_truth": {"scores": scores, "best-to-worst": ranking}}
            if category:
                record["category"] = category
            lines.append(json.dumps(record, ensure_ascii=False))
        write(out, f"cases{start // 3}.jsonl", "\n".join(lines) + "\n")
    for path in shared_jsonl(shared):
        if "listwise" in path.name:
            write(out, slug(path, shared), "\n".join(jsonl_lines(path, 2)) + "\n")


TARGETS = {
    "safetensors_header": safetensors_seeds,
    "gguf": gguf_seeds,
    "tokenizer_json": tokenizer_seeds,
    "recipe_toml": recipe_seeds,
    "principle_toml": principle_seeds,
    "chat_template": chat_template_seeds,
    "judge_output": judge_output_seeds,
    "prompt_jsonl": prompt_seeds,
    "listwise_jsonl": listwise_seeds,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=pathlib.Path, required=True)
    parser.add_argument("--repo", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True, help="seeds/<target>/ are made here")
    parser.add_argument("targets", nargs="*", default=list(TARGETS))
    args = parser.parse_args()
    for target in args.targets:
        if target not in TARGETS:
            sys.exit(f"[fuzz seeds] unknown target '{target}' (known: {', '.join(TARGETS)})")
        out = args.out / target
        TARGETS[target](args.shared.resolve(), args.repo.resolve(), out)
        count = len(list(out.iterdir())) if out.exists() else 0
        if count == 0:
            sys.exit(f"[fuzz seeds] {target}: no seed files found under {args.shared} and {args.repo}")
        print(f"[fuzz seeds] {target}: {count} files")


if __name__ == "__main__":
    main()
