#!/usr/bin/env python3
"""precept's ChatTemplate renders the real chat templates byte-for-byte as transformers does.

Renders every template in ../shared/assets/chat-templates and the chat_template of the two Qwen
tokenizer configs with transformers' own render_jinja_template (jinja2 in transformers' sandboxed
environment: trim_blocks, lstrip_blocks, loopcontrols, its tojson, raise_exception and strftime_now),
for a set of conversations x add_generation_prompt x enable_thinking. A second jinja2 environment,
built here by hand with the same options, must agree with transformers on every case, which pins the
options precept restates in lm/chat_template.cpp. It also renders Jinja snippets in transformers'
environment: a list written to exercise the interpreter's corners (scoping, whitespace control, filters,
Python string methods, number formatting, runtime errors, syntax errors on the same line), and templates
generated at random with fixed seeds that nest every tag with every whitespace-control marker, and every
kind of scope.

All expected bytes go to <fixtures>/chat_templates.json; then the gtest binary beside --precept runs
ChatTemplateFixtures.* with PRECEPT_CHAT_FIXTURES pointing at it and compares bytes. Exits non-zero
unless every case is byte-equal (or fails in both).

Llama 3.x templates get date_string="26 Jul 2024", as precept passes by default (ChatTemplate::
kDefaultDateString), so that Llama 3.2's strftime_now() does not make the text depend on the day.
"""
import argparse
import json
import pathlib
import random
import re
import sys
from datetime import datetime

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
from gtest_runner import run_gtests_with_output  # noqa: E402

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from transformers.utils.chat_template_utils import _compile_jinja_template, render_jinja_template

DATE_STRING = "26 Jul 2024"

# Special tokens as the models' tokenizer_config.json files set them (None: not set, so the
# template variable is undefined, as in transformers' special_tokens_map).
TEMPLATE_FILES = {
    "Qwen-Qwen3-0.6B.jinja": (None, "<|im_end|>"),
    "Qwen-Qwen2.5-7B-Instruct.jinja": (None, "<|im_end|>"),
    "Qwen-QwQ-32B.jinja": (None, "<|im_end|>"),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "HuggingFaceTB-SmolLM3-3B.jinja": (None, "<|im_end|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
}
TOKENIZER_CONFIGS = ["tokenizer_config.qwen3.json", "tokenizer_config.qwen2.5.json"]
SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]


def msg(role, content, reasoning=None):
    message = {"role": role, "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return message


UNICODE = "Ünïcödé — 日本語 😀 «quotes» \"double\" 'single' back\\slash\n\tnew line and tab"
CONVERSATIONS = {
    "single_user": [msg("user", "Hello!")],
    "system_user": [msg("system", "You are a terse assistant."), msg("user", "What is 2+2?")],
    "multi_turn": [
        msg("system", "You are helpful."),
        msg("user", "Hi"),
        msg("assistant", "Hello! How can I help?"),
        msg("user", "Tell me a joke."),
    ],
    "ends_with_assistant": [msg("user", "Name a colour."), msg("assistant", "Blue.")],
    "reasoning_field": [
        msg("user", "What is 3*4?"),
        msg("assistant", "12", reasoning="3 times 4 is 12."),
        msg("user", "And 5*6?"),
        msg("assistant", "30", reasoning="\n5 times 6 is 30.\n"),
    ],
    "reasoning_in_content": [
        msg("user", "Pick a number."),
        msg("assistant", "<think>\nAny number works.\n</think>\n\n7"),
        msg("user", "Another?"),
        msg("assistant", "<think>Still easy.</think>42"),
    ],
    "reasoning_earlier_turn_only": [
        msg("user", "First question"),
        msg("assistant", "First answer", reasoning="thinking about the first"),
        msg("user", "Second question"),
    ],
    "unicode_quotes_newlines": [
        msg("system", "  \u00a0System with padding\u3000 \n"),
        msg("user", UNICODE),
        msg("assistant", "Réponse: «ok» — {\"json\": [1, 2]} </s> <|im_end|> {{ not jinja }}"),
        msg("user", "\n\nleading and trailing newlines\n\n"),
    ],
    "tool_response": [
        msg("user", "What is the weather in Paris?"),
        msg("assistant", "Let me check."),
        msg("tool", "{\"temperature\": 21, \"unit\": \"C\"}"),
        msg("tool", "<tool_response>sunny</tool_response>"),
        msg("assistant", "It is 21 C and sunny."),
    ],
    "system_in_middle": [
        msg("user", "Hello"),
        msg("system", "Be brief from now on."),
        msg("user", "Explain gravity."),
    ],
    "empty_contents": [msg("system", ""), msg("user", ""), msg("assistant", "")],
    "think_switches_in_system": [msg("system", "Answer briefly. /no_think"), msg("user", "Why is the sky blue?")],
}

# Jinja snippets rendered in transformers' environment: (template, variables).
MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
SNIPPETS = [
    ("{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{% endfor %}{{ x }}", {}),
    ("{% for i in [1,2] %}{% if loop.first %}{% set y = 5 %}{% endif %}[{{ y }}]{% endfor %}", {}),
    ("{% for i in [1,2,3] %}{% set y = (y or 0) + i %}[{{ y }}]{% endfor %}[{{ y }}]", {}),
    ("{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}", {}),
    ("{% for i in [1] %}{% set x = 3 %}{% endfor %}{{ x }}", {}),
    ("{% if true %}{% set z = 1 %}{% endif %}{{ z }}", {}),
    ("{% set ns = namespace(a=1, b='s') %}{% for i in [1,2] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.b }}", {}),
    ("{{ none }}|{{ None }}|{{ [1, 'a', none, true, 1.5] }}|{{ {'a': 1} }}|{{ 1/2 }}|{{ 4/2 }}|{{ 7//2 }}|{{ -7//2 }}|{{ -7 % 3 }}", {}),
    ("{{ 1e20 }}|{{ 1e-5 }}|{{ 0.1+0.2 }}|{{ 1.0 }}|{{ 100000000000000000.0 }}|{{ 1234567890123456.0 }}|{{ 12345678901234567.0 }}|{{ 0.0001 }}|{{ 2.5e-3 }}", {}),
    ("{{ x }}|{{ x|length }}|{{ x is defined }}|{{ x is none }}|{{ x|default('d') }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ x }}|{{ 'ab'[::-1] }}|{{ 'héllo'|length }}|{{ 'héllo'[1] }}|{{ 'héllo'[-2:] }}", {}),
    ("{{ [1,2] + [3] }}|{{ 'a' * 3 }}|{{ 3 * 'a' }}|{{ -1|abs }}|{{ 2 ** 10 }}|{{ -2 ** 2 }}|{{ 1 + 2 * 3 }}", {}),
    ("{{ 'a' if false }}|{{ (1, 2) }}|{{ (1,) }}|{{ () }}|{{ 'a' 'b' }}", {}),
    ("{{ \"it's\" }}|{{ ['it\\'s', \"a\\\"b\", 'x\\ny', 'é', '\\x85', '\\u3000'] }}", {}),
    ("{{ {'b': 1, 'a': [1, 2.0, none, true]}|tojson }}|{{ 'é\"\\n\\u2028\\x7f'|tojson }}|{{ {'a': {'b': [1, {}], 'c': []}}|tojson(indent=2) }}", {}),
    ("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ [1, 2]|tojson(separators=(',', ':')) }}|{{ {'k': 'v'}|tojson(indent=0) }}", {}),
    ("{{ messages|tojson }}", {"messages": MESSAGES}),
    ("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in {'c': 3}|items %}{{ k }}{{ v }}{% endfor %}", {}),
    ("{{ 'a b  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ ' a b '.split(none, 1) }}|{{ '  a b  '.split(' ') }}", {}),
    ("{{ ' x '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ 'x\\n\\n'.rstrip() }}|{{ '\u00a0x\u3000'|trim|length }}|{{ '  a  '|trim('a ') }}", {}),
    ("{{ 'abc'.startswith(('x','a')) }}|{{ 'abc'.endswith('c') }}|{{ 'abc'.upper() }}|{{ 'a-b-c'.replace('-', '+', 1) }}|{{ 'ab'.replace('', '.') }}", {}),
    ("{{ 'abc'.find('c') }}|{{ 'ébc'.find('c') }}|{{ 'abca'.count('a') }}|{{ 'a1'.isalnum() }}|{{ '12'.isdigit() }}|{{ 'Hello World'.title() }}|{{ 'hELLO'.capitalize() }}", {}),
    ("{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'a' == 1 }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 'a' in 'abc' }}|{{ 1 in [1,2] }}|{{ 'a' in {'a':1} }}|{{ 'x' not in 'abc' }}|{{ not 'x' in 'abc' }}", {}),
    ("{% for m in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('a','b') }};{% endfor %}", {}),
    ("{% for a in [1,2] %}{% for b in [3] %}{{ loop.index }}{{ a }}{% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("{{ range(3)|list }}|{{ range(1,5,2)|list }}|{{ range(5)[::2]|list }}|{{ dict(a=1, b=2) }}|{{ namespace(a=1).a }}", {}),
    ("{{ [3,1,2]|sort }}|{{ ['b','A','c']|sort }}|{{ [{'x':2},{'x':1}]|sort(attribute='x') }}|{{ [1,2,3]|join(', ') }}|{{ ['a','b']|map('upper')|list }}|{{ [{'a':1},{'a':2}]|map(attribute='a')|list }}", {}),
    ("{{ [1,2,3,4]|select('odd')|list }}|{{ ['a','code_interpreter','b']|reject('equalto','code_interpreter')|join(', ') }}|{{ [{'a':1,'b':2},{'a':3}]|selectattr('b')|list }}|{{ [{'a':1},{'a':3}]|rejectattr('a','equalto',3)|list }}", {}),
    ("{{ 'Hello World'|lower }}|{{ 'hello world'|title }}|{{ 'hello'|capitalize }}|{{ 'aXa'|replace('a','b') }}|{{ 'abc'|first }}|{{ [1,2]|last }}|{{ [1,1,2]|unique|list }}|{{ [3,1]|min }}{{ [3,1]|max }}{{ [1,2]|sum }}", {}),
    ("{{ '5'|int + 1 }}|{{ 'x'|int }}|{{ '2.5'|float }}|{{ 2.567|round(2) }}|{{ 3|round }}|{{ 1.5|int }}|{{ true|string }}|{{ none|string }}|{{ 5|string }}", {}),
    ("{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\nb\\n'|indent(4) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}", {}),
    ("{{ 1 is number }}|{{ 'a' is string }}|{{ none is none }}|{{ [] is iterable }}|{{ 'a' is iterable }}|{{ {} is mapping }}|{{ false is false }}|{{ 0 is false }}|{{ 3 is divisibleby 3 }}|{{ 5 is integer }}|{{ 5.0 is float }}|{{ x is undefined }}|{{ 2 is even }}", {}),
    ("{% if x %}a{% elif y %}b{% else %}c{% endif %}|{{ 'x' if true else 'y' }}|{{ 'x' if false else 'y' }}|{{ x or 'fallback' }}|{{ 0 and 1 }}|{{ [] or none }}", {}),
    ("{% set d = {'k': 'v'} %}{{ d.k }}{{ d['k'] }}{{ d.get('k') }}{{ d.get('z', 'dft') }}{{ d.get('z') }}{{ d.keys()|list }}{{ d.values()|list }}{{ d.z }}", {}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set x %}inner {{ a }}{% endset %}[{{ x }}]{% with q = 5 %}{{ q }}{% endwith %}{{ q }}", {}),
    ("{% for i in [1,2,3,4] if i is even %}{{ i }}{{ loop.index }}{% else %}none{% endfor %}|{% for i in [] %}{{ i }}{% else %}empty{% endfor %}", {}),
    ("{% for i in [1,2,3] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% endfor %}|{% for i in [1,2,3] %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% macro greet(name, greeting='hi') %}{{ greeting }} {{ name }}{% endmacro %}{{ greet('bob') }}|{{ greet('al', greeting='yo') }}|{{ greet(name='x') }}|{{ greet() }}", {}),
    ("{% for a, b in [[1,2],[3,4]] %}{{a}}{{b}}{% endfor %}|{% for (a, b) in [(5, 6)] %}{{a}}{{b}}{% endfor %}", {}),
    ("{% for x in 'ab' %}{{x}}{% endfor %}|{% for k in {'a':1,'b':2} %}{{k}}{% endfor %}|{{ messages[0]['role'] }}{{ messages[-1].content }}{{ messages[5] }}", {"messages": MESSAGES}),
    ("{{ [1,2][0:5:2] }}|{{ 'hello'[1:-1] }}|{{ [1,2,3][-5:] }}|{{ [1,2,3][:-1] }}|{{ messages[::-1]|map(attribute='role')|list }}|{{ messages[1:]|length }}", {"messages": MESSAGES}),
    # Whitespace control with trim_blocks and lstrip_blocks, as transformers sets them.
    ("{% if true %}\n  hello\n{% endif %}\n  {{ 1 }}\n", {}),
    ("  {% if true %}x{% endif %}  \n{# c #}\n  {# c2 #}  y", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("{{- 'a' -}}\n\n   {{- 'b' }}   {{ 'c' -}}    \n   d", {}),
    ("  {%+ if true %}x{% endif +%}  \nq", {}),
    ("line1\n{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}\nend\n\n", {}),
    ("{% raw %}{{ x }} {% if %}{% endraw %}\n{% if true %}\tx\n{%- endif %}", {}),
    ("{%- for message in messages -%}\n  {{ message.content }}\n{%- endfor %}", {"messages": MESSAGES}),
    ("\t  {%- if true %}\n\tA\n\t{% else %}\n\tB\n\t{% endif %}\n{#- comment -#}\n  end", {}),
    ("a\r\nb\r{% if true %}\r\nc{% endif %}\r\n", {}),
    ("{{ '\\t\\\\\\x41\\u00e9\\U0001F600\\101\\q' }}", {}),
    ("{% generation %}gen {{ 1 }}{% endgeneration %}", {}),
    ("{%- raw -%}  {{ x }}  {%- endraw -%}  after|{% raw -%}\n  x\n{%- endraw %}\nafter", {}),
    ("{#- c -#}  \n  x{# a\nb #}\ny|x {% if true %}y{% endif %}\n\t {% if true %}z{% endif %}|\u3000 {%- if true %}a{% endif %}", {}),
    ("{{ {'a': {'b': 1}} }}|{{ '}}' }}|{{ \"%}\" }}|{{ [1,2,][-1] }}|{{ {'a':1,}['a'] }}", {}),
    ("{{ loop }}|{% for i in [1] %}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}|{{ 1 is in [1] }}|{{ 'a' is lower }}|{{ x is callable }}|{{ range is callable }}", {}),
    ("{{ not 1 == 2 }}|{{ 0 or 1 and 2 }}|{{ 2 * 3 ~ 4 }}|{{ 1 if true else 2 if false else 3 }}|{{ ('a' if false) is defined }}", {}),
    ("{{ [1,2,3,4,5][::-2] }}|{{ [1,2,3][5:1:-1] }}|{{ [1,2,3][10:] }}|{{ 'abc'[-10:2] }}|{{ 'abcdef'[1:5:2] }}", {}),
    ("{{ 'it\\'s \"x\"' }}|{{ ['it\\'s \"x\"'] }}|{{ \"a\" ~ 1.0 }}|{{ [1.0, -0.0, 1e100, 1.5e-7] }}|{{ [1.0, -0.0, 1e100, 3.14, 1e16, 1e-7]|tojson }}", {}),
    ("{{ 'a' < 'b' }}|{{ 'B' < 'a' }}|{{ [1,2] < [1,3] }}|{{ {'a':1} in [{'a':1}] }}|{{ 1 == true }}|{{ none == none }}|{{ x == y }}|{{ namespace(a=1) }}", {}),
    ("{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ messages|map(attribute='content')|join('\\n') }}|{{ messages[0].content|tojson }}|{{ (messages|last).role }}",
     {"messages": [{"role": "user", "content": "hi \"q\""}, {"role": "assistant", "content": "yo"}]}),
    ("{{ '%s-%d'|format('a', 1) }}|{{ '%s' % 'x' }}|{{ '%5.2f|%-4s|%03d|%x|%r' % (3.14159, 'ab', 7, 255, 'q') }}|{{ '%(a)s' % {'a': 1} }}|{{ '100%%' % () }}", {}),
    ("{{ 10 // 3 }}|{{ -10 // 3 }}|{{ 10 % -3 }}|{{ 7.0 // 2 }}|{{ -7.5 // 2 }}|{{ -7.5 % 2 }}|{{ 2 ** -1 }}|{{ 2 ** 0.5 }}", {}),
    ("{{ {'b': 2, 'a': 1}|dictsort }}|{{ {'b': 2, 'a': 1}|dictsort(by='value', reverse=true) }}|{{ 'ÉCOLE'|lower }}|{{ \"they're bill's\"|title }}|{{ \"they're\".title() }}", {}),
    ("{% macro m(a, b=a ~ '!') %}{{ a }}{{ b }}{% endmacro %}{{ m('x') }}|{{ m('x', 'y') }}|{% set t = (1, 2) %}{{ t + (3,) }}|{{ t[0] }}", {}),
    ("{{ 'a\\u00e9b'|tojson }}|{{ '\\x00\\x1f'|tojson }}|{{ {'é': 1}|tojson(ensure_ascii=true) }}|{{ '😀'|tojson(ensure_ascii=true) }}", {}),
    ("{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ ' x'.isspace() }}|{{ ''.isdigit() }}|{{ 'Ab Cd'.istitle is defined }}|{{ 'abc'.index('c') }}|{{ 'abc'.removeprefix('a') }}", {}),
    ("{{ [3, 1, 2]|sort(reverse=true) }}|{{ ['b', 'a', 'C']|sort(case_sensitive=true) }}|{{ ['b', 'a', 'C']|unique|list }}|{{ 'abc'|list }}|{{ 'abc'|reverse }}", {}),
    ("{{ 1.5|round }}|{{ 2.5|round }}|{{ 0.125|round(2) }}|{{ 2.675|round(2) }}|{{ -1.5|round }}|{{ 1.55|round(1, 'floor') }}|{{ 5|safe ~ 1 }}", {}),
    ("{% for m in messages %}{{ m }}{% endfor %}", {"messages": [{"role": "user", "content": "hi", "n": 1, "f": 1.5, "b": True, "z": None, "l": [1, "a"]}]}),
    ("{{ 1_000 + 0x1F + 0o17 + 0b101 + 1e3 + 1_0.5 }}|{{ x.0 is defined }}|{{ [[1, 2]][0].1 }}|{% for x in 1, 2, 3 %}{{ x }}{% endfor %}|{% set t = 1, 2 %}{{ t }}", {}),
    ("{{ x['y']['z'] }}|{% if x is defined and x.y is defined %}a{% else %}b{% endif %}|{{ x == 1 }}|{{ x != 1 }}|{{ x in [1] }}|{{ not x }}", {"x": {"y": {"z": "deep"}}}),
    ("a\n\n\n", {}),
    ("{{ x }}\n", {"x": "\n"}),
    # Errors: both must fail.
    ("{{ x.y }}", {}),
    ("{{ raise_exception('boom') }}", {}),
    ("{{ 1 in 'abc' }}", {}),
    ("{{ 'a' + none }}", {}),
    ("{{ [1].append(2) }}", {}),
    ("{% set x = 1 %}{% set x.y = 2 %}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{{ 'ab'.split('') }}", {}),
    ("{{ 7 / 0 }}", {}),
    ("{{ namespace(_hidden=1) }}", {}),
    ("{{ 'a' in none }}", {}),
    ("{% for x in none %}{% endfor %}", {}),
    ("{{ 5|length }}", {}),
    ("{{ undefined_fn() }}", {}),
    ("{% set a, b = [1] %}", {}),
    ("{{ -'a' }}", {}),
    ("{% macro f(a) %}{{ a }}{% endmacro %}{{ f(1, 2) }}", {}),
    ("{% macro f(a) %}{{ a }}{% endmacro %}{{ f(b=2) }}", {}),
    ("{{ [1] in {'a': 1} }}", {}),
    ("{{ x|int }}", {}),
    # Syntax errors: both must fail on the same line.
    ("a\n{% if %}", {}),
    ("a\n\n{% for x in y %}", {}),
    ("a\n{{ x | nosuchfilter }}", {}),
    ("{{ x is nosuchtest }}", {}),
    ("{% nosuchtag %}", {}),
    ("{{ 'abc' }", {}),
    ("{{ (1 }}", {}),
    ("\n{{ 1 + }}", {}),
    ("{% endif %}", {}),
    ("{% if true %}x{% else %}y{% else %}z{% endif %}", {}),
    ("line1\nline2\n{{ 'unterminated }}", {}),
    ("{# comment\nspanning\nlines #}\n{% if x %}\n{{ x }\n{% endif %}", {}),
    ("{{ 'multi\nline' }}\n{{ y }", {}),
    ("{% for x in [1,\n2,\n3] %}\n{% endfor %}\n{% endif %}", {}),
    ("{% raw %}\n\n{% endraw %}\n{% if %}", {}),
    ("{%- if x -%}\n\n\n{{ }}{% endif %}", {}),
    ("{{ x\n\n", {}),
    ("{# never closed\n\n", {}),
    ("{% macro f(a=1, b) %}{% endmacro %}", {}),
    ("{{ [1, 2 }}", {}),
    ("{{ {'a' 1} }}", {}),
    ("{% if x %}\n{% elif %}\n{% endif %}", {}),
    ("{{ 1 is is string }}", {}),
    ("\n{{ f(a=1, 2) }}", {}),
    ("{% set x = 1 %}\n{{ x\n + \n }}", {}),
    ("{{ 01 }}", {}),
    ("{{ .5 }}", {}),
]


def random_structure_templates(seed, count):
    """Templates of text, prints, if/else, for, set, comments and raw blocks nested at random,
    with every whitespace-control marker (-, +, none) on every tag: they pin the lexer's
    trim_blocks / lstrip_blocks / {%- -%} handling."""
    rng = random.Random(seed)
    texts = ["", " ", "  ", "\n", "\n  ", "a", " b ", "\t", "\n\n", "x\n ", "  \n", "\u3000", "\r\n", " \t\n\t ", "z"]

    def text():
        return "".join(rng.choice(texts) for _ in range(rng.randint(0, 3)))

    def begin():
        return rng.choice(["", "", "-", "+"])

    def space():
        return rng.choice([" ", "  ", "\n", ""])

    def body(depth):
        out = ""
        kinds = ["text", "text", "print", "if", "for", "comment", "set", "raw"] if depth < 3 else ["text", "print", "comment"]
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(kinds)
            if kind == "text":
                out += text()
            elif kind == "print":
                out += ("{{" + rng.choice(["", "-", "+"]) + space() + rng.choice(["1", "'s'", "i", "v ~ '!'"]) + space()
                        + rng.choice(["", "-"]) + "}}")
            elif kind == "if":
                out += "{%" + begin() + " if " + rng.choice(["true", "false", "v"]) + " " + begin() + "%}" + body(depth + 1)
                if rng.random() < 0.5:
                    out += "{%" + begin() + " else " + begin() + "%}" + body(depth + 1)
                out += "{%" + begin() + " endif " + begin() + "%}"
            elif kind == "for":
                out += ("{%" + begin() + " for i in [1, 2] " + begin() + "%}" + body(depth + 1) + "{%" + begin()
                        + " endfor " + begin() + "%}")
            elif kind == "comment":
                out += "{#" + begin() + " c\n " + begin() + "#}"
            elif kind == "set":
                out += "{%" + begin() + " set v = " + rng.choice(["1", "'q'"]) + " " + begin() + "%}"
            else:
                out += ("{%" + begin() + " raw " + rng.choice(["", "-"]) + "%}" + text() + "{{ x }}" + text() + "{%"
                        + begin() + " endraw " + begin() + "%}")
            out += text()
        return out

    return [(body(0), {}) for _ in range(count)]


def random_scoping_templates(seed, count):
    """Templates that set, read and print variables and a namespace attribute across nested
    if, for (with else), macro, with and block-set scopes: they pin jinja2's scoping rules."""
    rng = random.Random(seed)
    names = ["a", "b", "c"]

    def expr():
        return rng.choice(["1", "'s'", "a", "b ~ '!'", "ns.x", "(c or 0) + 1", "loop.index if loop is defined else -1",
                           "i", "m()", "a ~ c"])

    def body(depth):
        out = ""
        kinds = ["print", "set", "set_ns", "if", "for", "macro", "with", "set_block"] if depth < 3 else [
            "print", "set", "set_ns"]
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(kinds)
            if kind == "print":
                out += "[{{ " + rng.choice(names + ["ns.x", "i", "loop.index0", "m()"]) + " }}]"
            elif kind == "set":
                out += "{% set " + rng.choice(names) + " = " + expr() + " %}"
            elif kind == "set_ns":
                out += "{% set ns.x = " + expr() + " %}"
            elif kind == "if":
                condition = rng.choice(["a", "b", "true", "loop is defined and loop.first", "i == 2"])
                out += "{% if " + condition + " %}" + body(depth + 1)
                if rng.random() < 0.5:
                    out += "{% else %}" + body(depth + 1)
                out += "{% endif %}"
            elif kind == "for":
                out += "{% for i in " + rng.choice(["[1, 2]", "[2, 3, 4]", "[]"]) + " %}" + body(depth + 1)
                if rng.random() < 0.3:
                    out += "{% else %}" + body(depth + 1)
                out += "{% endfor %}"
            elif kind == "macro":
                out += "{% macro m() %}" + body(depth + 1) + "{% endmacro %}"
            elif kind == "with":
                out += "{% with a = " + expr() + " %}" + body(depth + 1) + "{% endwith %}"
            else:
                out += "{% set b %}" + body(depth + 1) + "{% endset %}"
        return out

    prologue = "{% set ns = namespace(x=0) %}{% macro m() %}M{% endmacro %}"
    return [(prologue + body(0) + "|{{ a }}{{ b }}{{ c }}{{ ns.x }}", {}) for _ in range(count)]


def hand_built_environment():
    """jinja2 configured as transformers' _cached_compile_jinja_template configures it."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def render_transformers(source, messages, variables, add_generation_prompt):
    rendered, _ = render_jinja_template(
        conversations=[messages], chat_template=source, add_generation_prompt=add_generation_prompt, **variables
    )
    return rendered[0]


def render_by_hand(env, source, messages, variables, add_generation_prompt):
    chat = []
    for message in messages:  # transformers' _alias_reasoning_fields
        if message.get("reasoning_content") is not None:
            message = {"thinking": message["reasoning_content"], **message}
        chat.append(message)
    return env.from_string(source).render(
        messages=chat, tools=None, documents=None, add_generation_prompt=add_generation_prompt, **variables
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--precept", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared", required=True)
    args = parser.parse_args()

    assets = pathlib.Path(args.shared) / "assets"
    templates = []
    for file_name, (bos, eos) in TEMPLATE_FILES.items():
        path = assets / "chat-templates" / file_name
        templates.append({"name": file_name, "kind": "jinja", "path": str(path), "source": path.read_text(encoding="utf-8"),
                          "bos_token": bos, "eos_token": eos, "special": {k: v for k, v in
                                                                          (("bos_token", bos), ("eos_token", eos)) if v}})
    for file_name in TOKENIZER_CONFIGS:
        path = assets / "qwen-tokenizer" / file_name
        config = json.loads(path.read_text(encoding="utf-8"))
        special = {key: config[key] for key in SPECIAL_TOKEN_KEYS if isinstance(config.get(key), str)}
        templates.append({"name": file_name, "kind": "tokenizer_config", "path": str(path),
                          "source": config["chat_template"], "special": special})

    env = hand_built_environment()
    chat_cases = []
    disagreements = 0
    for template in templates:
        for conversation, messages in CONVERSATIONS.items():
            for add_generation_prompt in (True, False):
                for enable_thinking in (True, False):
                    variables = dict(template["special"])
                    variables.update(enable_thinking=enable_thinking, date_string=DATE_STRING)
                    case = {"template": template["name"], "conversation": conversation, "messages": messages,
                            "add_generation_prompt": add_generation_prompt, "enable_thinking": enable_thinking}
                    try:
                        case["expected"] = render_transformers(template["source"], [dict(m) for m in messages],
                                                               variables, add_generation_prompt)
                    except Exception as error:  # the template refuses this conversation
                        case["error"] = f"{type(error).__name__}: {error}"
                    try:
                        by_hand = render_by_hand(env, template["source"], [dict(m) for m in messages], variables,
                                                 add_generation_prompt)
                    except Exception as error:
                        by_hand = error
                    if ("expected" in case) != isinstance(by_hand, str) or (
                            "expected" in case and case["expected"] != by_hand):
                        disagreements += 1
                        print(f"hand-built jinja2 environment disagrees with transformers: {template['name']} "
                              f"{conversation} agp={add_generation_prompt} thinking={enable_thinking}")
                    chat_cases.append(case)

    snippet_cases = []
    generated = random_structure_templates(seed=20250601, count=1500) + random_scoping_templates(seed=7, count=1000)
    for source, variables in SNIPPETS + generated:
        case = {"source": source, "variables": variables}
        try:
            case["expected"] = _compile_jinja_template(source).render(**variables)
        except jinja2.exceptions.TemplateSyntaxError as error:  # also TemplateAssertionError
            case["error"] = f"{type(error).__name__}: {error}"
            case["error_line"] = error.lineno
        except Exception as error:
            case["error"] = f"{type(error).__name__}: {error}"
        snippet_cases.append(case)

    fixtures = pathlib.Path(args.fixtures)
    fixtures.mkdir(parents=True, exist_ok=True)
    out = fixtures / "chat_templates.json"
    for template in templates:
        del template["source"], template["special"]
    out.write_text(json.dumps({"templates": templates, "chat_cases": chat_cases, "snippet_cases": snippet_cases},
                              ensure_ascii=False, indent=1), encoding="utf-8")
    failing = sum("error" in case for case in chat_cases)
    print(f"wrote {len(chat_cases)} chat cases ({failing} where the template raises) over {len(templates)} templates "
          f"and {len(snippet_cases)} Jinja snippets to {out}")
    print(f"hand-built jinja2 environment == transformers on {len(chat_cases) - disagreements}/{len(chat_cases)} cases")

    code, stdout = run_gtests_with_output(
        args.precept, "ChatTemplateFixtures.*", {"PRECEPT_CHAT_FIXTURES": str(out)},
        ["ChatTemplateFixtures.Conversations", "ChatTemplateFixtures.JinjaSnippets"], fixtures)
    # Renderings and raises are counted apart: a case where the reference raises agrees whenever
    # precept raises, so it must not be counted as byte-equal.
    counts = re.findall(r"(\d+)/(\d+) (templates x conversations|Jinja snippets) (byte-equal|where)", stdout)
    expected_totals = {("templates x conversations", "byte-equal"): len(chat_cases) - failing,
                       ("templates x conversations", "where"): failing,
                       ("Jinja snippets", "byte-equal"): sum("error" not in c for c in snippet_cases),
                       ("Jinja snippets", "where"): sum("error" in c for c in snippet_cases)}
    seen = {(kind, what): (int(a), int(b)) for a, b, kind, what in counts}
    complete = all(seen.get(key) == (total, total) for key, total in expected_totals.items())
    if code != 0 or not complete or disagreements:
        print(f"FAILED: gtest exit {code}, counts {seen} (expected all of {expected_totals}), "
              f"{disagreements} environment disagreements")
        return 1
    print(f"OK: {expected_totals[('templates x conversations', 'byte-equal')]} conversations and "
          f"{expected_totals[('Jinja snippets', 'byte-equal')]} snippets byte-equal; precept raises on all "
          f"{expected_totals[('templates x conversations', 'where')]} conversations and "
          f"{expected_totals[('Jinja snippets', 'where')]} snippets where the reference raises")
    return 0


if __name__ == "__main__":
    sys.exit(main())
