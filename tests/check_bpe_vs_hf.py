#!/usr/bin/env python3
"""precept's byte-level BPE against Hugging Face tokenizers on a corpus of hard strings.

Builds the reference tokenizers with the PyPI `tokenizers` / `transformers` packages:
  qwen3        transformers' Qwen2Tokenizer from qwen-tokenizer/vocab.json + merges.txt +
               tokenizer_config.qwen3.json (through a directory of symlinks);
  qwen3-json   the same tokenizer saved as tokenizer.json by tokenizers;
  llama3       Meta's tiktoken tokenizer.model converted by transformers' TikTokenConverter, with a
               TemplateProcessing that adds <|begin_of_text|> (as the Hub's Llama 3 tokenizer.json);
               precept reads the tiktoken file itself;
  llama3-json  that converted tokenizer saved as tokenizer.json;
  gpt2-tiny    tiny-random-gpt2/tokenizer.json;
  gpt2         GPT-2's vocabulary taken out of llama.cpp's ggml-vocab-gpt-2.gguf into vocab.json +
               merges.txt, read by transformers' GPT2Tokenizer; its ids are also checked against
               llama.cpp's ggml-vocab-gpt-2.gguf.out.
For every string: ids without and with special tokens, the decoded text with and without special
tokens, and each id decoded alone (partial UTF-8 -> U+FFFD). Strings that are not valid UTF-8 are
given to Hugging Face as bytes.decode("utf-8", "replace"), which is what precept documents doing.

Writes <fixtures>/bpe_hf/hard_strings.json and runs
  precept_tests --gtest_filter=HardStrings.*:VocabConformance.Gpt2*
(found next to the --precept binary) with PRECEPT_HARD_STRINGS_JSON set; that test compares and
prints the counts. Exit status: the test binary's, or 1 when the reference itself is off.
"""
import argparse
import base64
import json
import pathlib
import struct
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
from gtest_runner import run_gtests  # noqa: E402

from tokenizers import Tokenizer, processors
from transformers import AutoTokenizer
from transformers.convert_slow_tokenizer import TikTokenConverter

SEPARATOR = "\n__ggml_vocab_test__\n"


def hard_strings():
    """(label, bytes) pairs. Labels are for the reader; the test reports by index and text."""
    texts = [
        # whitespace
        "Hello world", "  leading spaces", "trailing spaces   ", "tabs\tand\u00a0no-break\u00a0spaces",
        "\r\n\r\n\r\nwindows\r\nlines\r\n", "\n\n\n\n", " \n \n", "a" + " " * 50 + "b", " " * 300, "\t" * 17,
        " " * 5000 + "x", "\n" * 1000, "\t \t \t" * 100, "\r\r\n\n\r", "line\n\n\n  indented\n\t\ttabbed",
        "\u0085 next line", "a\u180eb mongolian vowel separator", "x!\u180e\u180e  y\u180e", "ab  \u180e", "x\u2028y\u2029z", "\u3000ideographic\u3000space",
        "zero\u200bwidth", "\ufeffbyte order mark", "nul \x00 and \x01\x02\x1f controls", "soft\u00adhyphen",
        # normalization (NFC for Qwen)
        "e\u0301", "cafe\u0301 re\u0301sume\u0301 na\u0131\u0308ve", "\u1100\u1161\u11a8 jamo", "\u00c5 vs A\u030a",
        "\u212b angstrom \u2126 ohm \u212a kelvin", "\ufb01 ligature", "\u0958 \u0929 composition exclusions",
        "\u1e9b\u0323", "q\u0307\u0323", "\u00e9\u0301\u0301\u0301 stacked marks", "\u0915\u094d\u0937 \u0d4c",
        # scripts
        "中文分词测试，这是一个句子。", "日本語のテキストとカタカナ、ひらがな。", "한국어 텍스트입니다", "Тест на русском языке",
        "עברית מימין לשמאל", "العربية: مرحبا بالعالم", "हिन्दी देवनागरी लिपि", "ไทยไม่มีช่องว่าง", "Ελληνικά κείμενα",
        "Tiếng Việt có dấu", "Straße ß ẞ İstanbul ıi ǅ ǈ ǋ", "Mixed中English混合text123数字", "ᚠᛇᚻ᛫ᛒᛦᚦ runes",
        "𝕳𝖊𝖑𝖑𝖔 𝔾𝕠𝕠𝕕 math letters", "𠀀𠀁 CJK extension B", "ꙮ multiocular o",
        # emoji
        "👍🏽", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇺🇸🇯🇵🇩🇪", "❤️‍🔥", "🧑🏿‍💻", "a😀b😀c", "🦙.cpp", "😶‍🌫️" * 5,
        # contractions
        "I'm, you're, he's, we've, they'll, she'd, it's", "I'M YOU'RE HE'S WE'VE THEY'LL SHE'D", "don't can't won't",
        "'s 's 'S 'll 'LL", "it'\u017f long s", "rock 'n' roll", "\u2019curly\u2019 apostrophes it\u2019s", "''''''",
        # digits
        "1234567890", "3.14159265358979", "1,000,000", "0x7FFFFFFF", "12345678901234567890123", "v1.2.3-rc4",
        "2024-01-01T12:34:56Z", "①②③ ½ ²³ ٣٤٥ ௧௨ 𝟙𝟚 Ⅻ", "$1.99 €2,50 ¥300",
        # code and markup
        "def f(x):\n    return x**2  # square\n", "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
        "<html><body class=\"x\">&amp;</body></html>", "```python\nprint('hi')\n```\n", "$$\\frac{a}{b}$$",
        "!!!???...,,,;;;", "------======", "a" * 1000, "ab" * 500, "The quick brown fox. " * 50,
        # special and added tokens inside text
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "<think>\nreasoning\n</think>\n\nanswer",
        "<think></think>", "text<|endoftext|>more", "<|im_start|><|im_start|>", "<|im_start", "<<|im_end|>>",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", "<tool_call>{\"a\": 1}</tool_call>",
        "<|fim_prefix|>def<|fim_suffix|>pass<|fim_middle|>", "< think >", "<THINK>", " <think> spaced </think> ",
        "e\u0301<|im_start|>\u0301", "<|reserved_special_token_7|><|python_tag|>",
    ]
    cases = [("text", t.encode("utf-8")) for t in texts]
    cases += [
        ("invalid", b"abc\xff\xfe def"), ("invalid", b"\xe4\xb8"), ("invalid", b"\xe4\xb8 x\xe4"),
        ("invalid", b"\xed\xa0\x80 surrogate"), ("invalid", b"\xc0\xaf overlong"), ("invalid", b"\xf4\x90\x80\x80 big"),
        ("invalid", b"\xf0\x9f\x98 cut emoji"), ("invalid", b"\x80\x80\x80"), ("invalid", bytes(range(256))),
        ("invalid", b"<think>\xff</think>"),
    ]
    return cases


def llamacpp_inputs(shared):
    text = (shared / "assets/llamacpp-vocab-tests/ggml-vocab-qwen2.gguf.inp").read_text(encoding="utf-8")
    return text.split(SEPARATOR)[:-1]


def llamacpp_outputs(shared, name):
    lines = (shared / f"assets/llamacpp-vocab-tests/ggml-vocab-{name}.gguf.out").read_text().split("\n")
    return [[int(x) for x in line.split()] for line in lines[:-1]]


def read_gguf_vocab(path):
    """tokenizer.ggml.tokens / merges of a GGUF v2/v3 file (only what this check needs)."""
    data = path.read_bytes()
    if data[:4] != b"GGUF":
        raise ValueError(f"{path} is not a GGUF file")
    version, tensor_count, kv_count = struct.unpack_from("<IQQ", data, 4)
    offset = 24
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def read_string(offset):
        (length,) = struct.unpack_from("<Q", data, offset)
        return data[offset + 8:offset + 8 + length].decode("utf-8"), offset + 8 + length

    def read_value(kind, offset):
        if kind == 8:
            return read_string(offset)
        if kind == 9:
            item_kind, count = struct.unpack_from("<IQ", data, offset)
            offset += 12
            items = []
            for _ in range(count):
                item, offset = read_value(item_kind, offset)
                items.append(item)
            return items, offset
        fmt = scalar[kind]
        return struct.unpack_from(fmt, data, offset)[0], offset + struct.calcsize(fmt)

    metadata = {}
    for _ in range(kv_count):
        key, offset = read_string(offset)
        (kind,) = struct.unpack_from("<I", data, offset)
        metadata[key], offset = read_value(kind, offset + 4)
    return metadata


def read_tiktoken(path):
    ranks = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


class LocalTikTokenConverter(TikTokenConverter):
    """transformers' converter, reading the file without the tiktoken package."""

    @staticmethod
    def load_tiktoken_bpe(tiktoken_url):
        return read_tiktoken(tiktoken_url)


def link(target, link_path):
    if link_path.is_symlink() or link_path.exists():
        link_path.unlink()
    link_path.symlink_to(target)


def build_references(shared, out):
    assets = shared / "assets"
    refs = {}  # name -> (tokenizers.Tokenizer, transformers tokenizer or None, how precept loads it)

    qwen_dir = out / "qwen3-links"
    qwen_dir.mkdir(parents=True, exist_ok=True)
    link(assets / "qwen-tokenizer/vocab.json", qwen_dir / "vocab.json")
    link(assets / "qwen-tokenizer/merges.txt", qwen_dir / "merges.txt")
    link(assets / "qwen-tokenizer/tokenizer_config.qwen3.json", qwen_dir / "tokenizer_config.json")
    qwen = AutoTokenizer.from_pretrained(str(qwen_dir))
    (out / "qwen3-json").mkdir(exist_ok=True)
    qwen.backend_tokenizer.save(str(out / "qwen3-json/tokenizer.json"))
    refs["qwen3"] = (qwen.backend_tokenizer, qwen, {"vocab_json": str(qwen_dir / "vocab.json"),
                                                    "merges_txt": str(qwen_dir / "merges.txt"),
                                                    "tokenizer_config": str(qwen_dir / "tokenizer_config.json")})
    refs["qwen3-json"] = (Tokenizer.from_file(str(out / "qwen3-json/tokenizer.json")), None,
                          {"tokenizer_json": str(out / "qwen3-json/tokenizer.json")})

    special = json.loads((assets / "llama3-tokenizer/special_tokens.json").read_text())
    names = [name for name, _ in sorted(special["special_tokens"].items(), key=lambda item: item[1])]
    llama3 = LocalTikTokenConverter(vocab_file=str(assets / "llama3-tokenizer/tokenizer.model"),
                                    pattern=special["pat_str"], extra_special_tokens=names).converted()
    llama3.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", special["bos_id"])])
    (out / "llama3-json").mkdir(exist_ok=True)
    llama3.save(str(out / "llama3-json/tokenizer.json"))
    refs["llama3"] = (llama3, None, {"tiktoken": str(assets / "llama3-tokenizer/tokenizer.model")})
    refs["llama3-json"] = (llama3, None, {"tokenizer_json": str(out / "llama3-json/tokenizer.json")})

    tiny = assets / "tiny-random-gpt2"
    refs["gpt2-tiny"] = (Tokenizer.from_file(str(tiny / "tokenizer.json")), AutoTokenizer.from_pretrained(str(tiny)),
                         {"tokenizer_json": str(tiny / "tokenizer.json")})

    metadata = read_gguf_vocab(assets / "llamacpp-vocab-tests/ggml-vocab-gpt-2.gguf")
    gpt2_dir = out / "gpt2-from-gguf"
    gpt2_dir.mkdir(exist_ok=True)
    tokens = metadata["tokenizer.ggml.tokens"]
    (gpt2_dir / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(tokens)}, ensure_ascii=False),
                                         encoding="utf-8")
    (gpt2_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(metadata["tokenizer.ggml.merges"]) + "\n",
                                         encoding="utf-8")
    (gpt2_dir / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer"}))
    gpt2 = AutoTokenizer.from_pretrained(str(gpt2_dir))
    refs["gpt2"] = (gpt2.backend_tokenizer, gpt2, {"vocab_json": str(gpt2_dir / "vocab.json"),
                                                   "merges_txt": str(gpt2_dir / "merges.txt"),
                                                   "tokenizer_config": str(gpt2_dir / "tokenizer_config.json")})
    return refs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precept", required=True, help="the precept binary; precept_tests is next to it")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared", required=True)
    args = parser.parse_args()
    shared = pathlib.Path(args.shared).resolve()
    out = pathlib.Path(args.fixtures).resolve() / "bpe_hf"
    out.mkdir(parents=True, exist_ok=True)

    refs = build_references(shared, out)
    corpus = hard_strings() + [("llama.cpp", text.encode("utf-8")) for text in llamacpp_inputs(shared)]

    reference_problems = 0
    cases = []
    for name, (backend, transformers_tokenizer, _) in refs.items():
        for label, raw in corpus:
            text = raw.decode("utf-8", "replace")
            ids = backend.encode(text, add_special_tokens=False).ids
            if transformers_tokenizer is not None:
                via_transformers = transformers_tokenizer.encode(text, add_special_tokens=False)
                if via_transformers != ids:
                    reference_problems += 1
                    print(f"reference disagreement ({name}): transformers {via_transformers} vs tokenizers {ids} "
                          f"for {text[:60]!r}")
            cases.append({
                "tokenizer": name, "label": label, "text_hex": raw.hex(), "ids": ids,
                "ids_special": backend.encode(text, add_special_tokens=True).ids,
                "decoded": backend.decode(ids, skip_special_tokens=False),
                "decoded_skip": backend.decode(ids, skip_special_tokens=True),
                "piece_decodes": [backend.decode([i], skip_special_tokens=False) for i in ids],
            })

    # The llama.cpp vectors: the references must reproduce them (they are HF's own outputs).
    for name, vectors in (("qwen3", "qwen2"), ("llama3", "llama-bpe"), ("gpt2", "gpt-2")):
        expected = llamacpp_outputs(shared, vectors)
        got = [refs[name][0].encode(text, add_special_tokens=False).ids for text in llamacpp_inputs(shared)]
        same = sum(a == b for a, b in zip(expected, got))
        print(f"reference {name} vs llama.cpp {vectors}: {same}/{len(expected)}")
        if same != len(expected):
            reference_problems += 1

    document = {
        "tokenizers": [{"name": name, "load": load} for name, (_, _, load) in refs.items()],
        "gpt2_gguf_dir": str(out / "gpt2-from-gguf"),
        "cases": cases,
    }
    path = out / "hard_strings.json"
    path.write_text(json.dumps(document, ensure_ascii=True))
    print(f"wrote {len(cases)} cases ({len(corpus)} strings x {len(refs)} tokenizers) to {path}")

    # The exit code alone would pass if the filter matched nothing or the cases skipped:
    # run_gtests counts the cases that ran to completion.
    code = run_gtests(args.precept, "HardStrings.*:VocabConformance.Gpt2*", {"PRECEPT_HARD_STRINGS_JSON": str(path)},
                      {"HardStrings.MatchHuggingFace", "VocabConformance.Gpt2FromGguf"}, out)
    if reference_problems:
        print(f"{reference_problems} problems with the Hugging Face references themselves")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
