"""Hypothesis strategies for what a hostile client sends: raw request bodies inside and outside
the schema, header values, query strings and path parameters.

A body is bytes, built as JSON *text* so that every spelling is reachable: numbers of any length
and exponent, leading zeros, ``NaN``; strings of every Unicode category and every escape,
lone surrogates included; duplicate keys; nesting near and far past the limits; invalid UTF-8;
sizes near 64 KiB. Valid items (inside the schema) come in the same mix, so the fuzzers also
check that what the document allows is accepted.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

MAX_BODY_BYTES = 64 * 1024

# -- numbers, in every JSON spelling and magnitude ---------------------------------------------

_sign = st.sampled_from(["", "-"])


@st.composite
def digit_runs(draw: st.DrawFn) -> str:
    """Digits: short, around DynamoDB's 38, around Python's 4300-digit limit, or longer."""
    length = draw(
        st.one_of(
            st.integers(1, 20),
            st.integers(36, 41),
            st.sampled_from([4299, 4300, 4301, 5000, 20000]),
        )
    )
    first = draw(st.sampled_from("123456789"))
    if length > 60:  # long runs: one repeated digit keeps generation cheap
        return first + draw(st.sampled_from("0159")) * (length - 1)
    return first + draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))


_exponents = st.one_of(
    st.integers(-140, 140),
    st.sampled_from(
        [
            "999999999999999999",
            "-999999999999999999",
            "1000000000000000000",
            "999999999999999999999",
            "-999999999999999999999",
            "+126",
            "-131",
            "+00000000000000000000000001",
        ]
    ).map(str),
)


@st.composite
def number_literals(draw: st.DrawFn) -> str:
    """A JSON number literal (or something that is almost one)."""
    kind = draw(st.sampled_from(["int", "fraction", "exponent", "zero", "odd"]))
    sign = draw(_sign)
    if kind == "int":
        return sign + draw(digit_runs())
    if kind == "fraction":
        return f"{sign}{draw(digit_runs())}.{draw(digit_runs())}"
    if kind == "exponent":
        mantissa = draw(
            st.one_of(digit_runs(), st.builds(lambda a, b: f"{a}.{b}", digit_runs(), digit_runs()))
        )
        e = draw(st.sampled_from(["e", "E"]))
        exponent = str(draw(_exponents))
        if not exponent.startswith(("-", "+")) and draw(st.booleans()):
            exponent = "+" + exponent
        return f"{sign}{mantissa}{e}{exponent}"
    if kind == "zero":
        return draw(st.sampled_from(["0", "-0", "0.0", "-0.0", "0e0", "0E+999999999999999999999"]))
    # Not JSON, or not numbers JSON allows: each a 400.
    return draw(
        st.sampled_from(
            ["NaN", "Infinity", "-Infinity", "01", "1.", ".5", "+1", "0x10", "1e", "--1", "1_000"]
        )
    )


# -- strings, of every Unicode category and escape ---------------------------------------------

# Every code point but the surrogates (which JSON text can only carry as \u escapes).
_any_character = st.characters(exclude_categories=["Cs"])
_interesting = st.sampled_from(
    [
        *(chr(c) for c in range(0x20)),
        "\x7f",
        "\x85",
        "\x9f",
        "\u00a0",
        "\u200b",
        "\u200e",
        "\u2028",
        "\u2029",
        "\u202a",
        "\u202e",
        "\u2066",
        "\u2069",
        "\u3000",
        "\ufeff",
        "\uffff",
        "\U0001f600",
        "\U0010ffff",
        "é",
    ]
)
plain_text = st.text(st.one_of(_any_character, _interesting), max_size=40)


@st.composite
def string_literals(draw: st.DrawFn) -> str:
    """A JSON string literal: escaped as json.dumps would, or with raw characters, or with
    lone surrogate escapes and other escapes."""
    text = draw(plain_text)
    style = draw(st.sampled_from(["ascii", "raw", "surrogate", "escapes", "long"]))
    if style == "ascii":
        return json.dumps(text)
    if style == "raw":
        return json.dumps(text, ensure_ascii=False)
    if style == "surrogate":
        lone = draw(st.sampled_from(["\\ud800", "\\udfff", "\\udbff", "\\ud83d\\u0041"]))
        return '"' + json.dumps(text)[1:-1] + lone + '"'
    if style == "escapes":
        return '"' + draw(st.sampled_from(["\\n", "\\t", "\\u0000", "\\/", "\\u202E"])) + '"'
    return json.dumps("x" * draw(st.sampled_from([50, 51, 200, 201, 255, 256, 2000, 2001])))


# -- JSON values and whole bodies --------------------------------------------------------------


class Raw(str):
    """JSON text to be inserted as is."""


def render(value: Any) -> str:
    """JSON text of a tree of dicts (as lists of pairs, so keys may repeat), lists and Raw."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(render(v) for v in value) + "]"
    if isinstance(value, tuple):  # an object: a tuple of (key literal, value) pairs
        return "{" + ",".join(f"{k}:{render(v)}" for k, v in value) + "}"
    return json.dumps(value, ensure_ascii=False)


_scalars = st.one_of(
    number_literals().map(Raw),
    string_literals().map(Raw),
    st.sampled_from([Raw("true"), Raw("false"), Raw("null")]),
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(string_literals(), inner), max_size=4).map(tuple),
    ),
    max_leaves=10,
)


@st.composite
def deep_values(draw: st.DrawFn) -> str:
    """A value nested near, at, or far past the 16-level limit (objects, arrays or both)."""
    levels = draw(st.one_of(st.integers(14, 19), st.sampled_from([32, 300, 1000, 5000, 30000])))
    opening = draw(st.sampled_from(["[", '{"a":', "mixed"]))
    leaf = render(draw(_scalars))
    if opening == "mixed":
        opens = ["[" if i % 2 else '{"a":' for i in range(levels)]
    else:
        opens = [opening] * levels
    closes = ["]" if o == "[" else "}" for o in reversed(opens)]
    return "".join(opens) + leaf + "".join(closes)


ITEM_FIELDS = ("name", "description", "status", "tags", "attributes")
OTHER_FIELDS = ("id", "version", "created_at", "updated_at", "filename", "content_type", "size")


@st.composite
def valid_items(draw: st.DrawFn) -> dict[str, Any]:
    """A body the contract accepts (as a Python value)."""
    safe = st.characters(
        exclude_categories=["Cc", "Cs"],
        exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x85",
    )
    name = draw(st.text(safe, min_size=1, max_size=30).filter(lambda n: n.strip()))
    item: dict[str, Any] = {"name": name}
    if draw(st.booleans()):
        item["description"] = draw(st.text(st.one_of(safe, st.sampled_from("\n\t")), max_size=40))
    if draw(st.booleans()):
        item["status"] = draw(st.sampled_from(["active", "archived", None]))
    if draw(st.booleans()):
        item["tags"] = draw(
            st.lists(st.text(safe, min_size=1, max_size=12), max_size=5, unique=True)
        )
    if draw(st.booleans()):
        item["attributes"] = draw(
            st.dictionaries(
                st.text(min_size=1, max_size=8),
                st.recursive(
                    st.none()
                    | st.booleans()
                    | st.integers(-(10**20), 10**20)
                    | st.text(max_size=8),
                    lambda inner: (
                        st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3)
                    ),
                    max_leaves=6,
                ),
                max_size=4,
            )
        )
    return item


@st.composite
def valid_attachments(draw: st.DrawFn) -> dict[str, Any]:
    safe = st.characters(
        exclude_categories=["Cc", "Cs"],
        exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x85",
    )
    return {
        "filename": draw(st.text(safe, min_size=1, max_size=30)),
        "content_type": draw(st.sampled_from(["text/plain", "IMAGE/PNG", "application/pdf"])),
        "size": draw(st.integers(1, 25 * 1024 * 1024)),
    }


def _field_value(field: str) -> st.SearchStrategy[Any]:
    """A value for a known field: often its right type, often not."""
    typed = {
        "name": string_literals().map(Raw),
        "description": string_literals().map(Raw),
        "status": st.sampled_from(["active", "archived", "deleted", "ACTIVE", None]),
        "tags": st.lists(string_literals().map(Raw), max_size=22),
        "filename": string_literals().map(Raw),
        "content_type": st.sampled_from(
            ["text/plain", "Text/Plain", "text/html", " image/png", ""]
        ),
        "size": number_literals().map(Raw),
    }
    if field == "attributes":
        return st.one_of(json_values, deep_values().map(Raw))
    return st.one_of(typed.get(field, json_values), json_values, deep_values().map(Raw))


@st.composite
def object_bodies(draw: st.DrawFn) -> str:
    """A JSON object of known and unknown fields, keys possibly repeated."""
    fields = draw(
        st.lists(st.sampled_from((*ITEM_FIELDS, *OTHER_FIELDS, "")), max_size=6)
        | st.lists(plain_text, max_size=3)
    )
    pairs = [(json.dumps(f), draw(_field_value(f))) for f in fields]
    if pairs and draw(st.integers(0, 9)) == 0:
        pairs.append(pairs[0])  # a duplicate key
    return render(tuple(pairs))


@st.composite
def near_64_kib(draw: st.DrawFn) -> bytes:
    """A valid-looking body whose size is within a few bytes of 64 KiB."""
    target = MAX_BODY_BYTES + draw(st.integers(-3, 3))
    head = '{"name": "big", "description": "'
    tail = '"}'
    filler = draw(st.sampled_from(["x", "é", "\u20ac", "\U0001f600"]))
    room = target - len((head + tail).encode())
    text = filler * (room // len(filler.encode()))
    text += "x" * (room - len(text.encode()))
    return (head + text + tail).encode()


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    """Valid JSON text with bytes that are not UTF-8 spliced in."""
    text = draw(object_bodies()).encode()
    bad = draw(
        st.sampled_from(
            [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82", b"\xf5\x80\x80\x80", b"\xc0\xaf"]
        )
    )
    at = draw(st.integers(0, len(text)))
    return text[:at] + bad + text[at:]


raw_bodies: st.SearchStrategy[bytes] = st.one_of(
    valid_items().map(lambda v: render(v).encode()),
    valid_attachments().map(lambda v: render(v).encode()),
    object_bodies().map(str.encode),
    json_values.map(lambda v: render(v).encode()),
    deep_values().map(str.encode),
    near_64_kib(),
    invalid_utf8(),
    st.sampled_from([b"", b" ", b"{", b"}", b"null", b"{}", b"[]", b'"x"', b"\xef\xbb\xbf{}"]),
    st.binary(max_size=40),
)

# -- headers, query strings, path parameters ---------------------------------------------------

_ascii_printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
_header_text = st.text(
    st.characters(min_codepoint=0x09, max_codepoint=0x2FF, exclude_characters="\r\n"), max_size=20
)


@st.composite
def entity_tags(draw: st.DrawFn) -> str:
    weak = draw(st.sampled_from(["", "", "W/", "w/"]))
    opaque = draw(
        st.one_of(
            st.integers(0, 12).map(str),
            st.integers(0, 12).map(lambda n: f"0{n}"),
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=4),
        )
    )
    quote = draw(st.sampled_from(['"', '"', "", "'"]))
    return f"{weak}{quote}{opaque}{quote}"


@st.composite
def if_match_values(draw: st.DrawFn) -> str:
    """If-Match values: valid lists of entity-tags, bare integers, *, and near misses."""
    members = draw(
        st.lists(st.one_of(entity_tags(), st.integers(0, 12).map(str), st.just("*")), max_size=4)
    )
    separators = draw(
        st.lists(
            st.sampled_from([",", ", ", " ,", ",,", " ", ";"]),
            min_size=len(members),
            max_size=len(members),
        )
    )
    value = "".join(m + s for m, s in zip(members, separators, strict=True))
    if draw(st.booleans()):
        value = value.rstrip(",; ")
    return draw(st.one_of(st.just(value), _header_text, st.just("*"), st.just(" * ")))


idempotency_keys = st.one_of(
    _ascii_printable,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=250, max_size=260),
    _header_text,
    st.just(" "),
    st.just(""),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/merge-patch+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "*/*",
            "",
            "application/json, text/plain",
        ]
    ),
    _header_text,
)
query_values = st.one_of(
    st.integers(-5, 205).map(str),
    st.sampled_from(
        ["", "0", "1", "100", "101", "007", "0" * 5000 + "1", "1e2", "\u0661", " 5", "5 "]
    ),
    st.sampled_from(["active", "archived", "ACTIVE", "active\n", "deleted"]),
    st.text(max_size=30),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=2000, max_size=2100),
)


def almost(valid: str) -> st.SearchStrategy[str]:
    """Strings that are almost ``valid``: one character added, removed, changed or cased."""
    position = st.integers(0, len(valid))
    return st.one_of(
        st.tuples(position, st.one_of(_interesting, st.sampled_from("0a-/%\n "))).map(
            lambda pc: valid[: pc[0]] + pc[1] + valid[pc[0] :]
        ),
        position.filter(lambda i: i < len(valid)).map(lambda i: valid[:i] + valid[i + 1 :]),
        st.tuples(position.filter(lambda i: i < len(valid)), st.sampled_from("0fgA-")).map(
            lambda pc: valid[: pc[0]] + pc[1] + valid[pc[0] + 1 :]
        ),
        st.just(valid.upper()),
        st.just(valid + "\n"),
    )


path_values = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=60, max_size=6000),
    st.sampled_from(
        ["", ".", "..", "%2e%2e", "%00", "health", "null", "00000000-0000-4000-8000-000000000000"]
    ),
)
