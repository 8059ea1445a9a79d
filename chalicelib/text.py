"""Text that people read: which characters it may carry, and how client text appears in messages.

Each rule is one regular expression written in the subset that Python's ``re`` and ECMA-262 (the
dialect of JSON Schema's ``pattern``) read alike, so the server checks a value with exactly the
pattern the OpenAPI document publishes. The server always matches the whole string
(``re.fullmatch``); in the document ``^`` and ``$`` anchor it, which in ECMA-262 (unlike
Python's ``$``) never matches before a trailing newline.
"""

from __future__ import annotations

import re

# C0 and C1 controls, and the bidirectional overrides and isolates (U+202A-U+202E,
# U+2066-U+2069) that make one string display as another.
CONTROLS = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
# The same without tab and newline, which a description may carry.
CONTROLS_BUT_TAB_AND_NEWLINE = r"\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
# Unicode's White_Space characters outside the controls: what trimming a name removes (Python's
# ``str.strip()`` removes exactly these once controls are refused; ECMA's ``\s`` would also
# match U+FEFF, which ``strip()`` keeps, so the set is spelled out).
WHITE_SPACE = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

MAX_NAME_LENGTH = 200


def _pattern(body: str) -> str:
    return f"^{body}$"


# A name: at most 200 characters once trimmed, at least one of them not white space, no controls.
NAME_PATTERN = _pattern(
    f"[{WHITE_SPACE}]*[^{CONTROLS}{WHITE_SPACE}]"
    f"(?:[^{CONTROLS}]{{0,{MAX_NAME_LENGTH - 2}}}[^{CONTROLS}{WHITE_SPACE}])?[{WHITE_SPACE}]*"
)
# Text with at least one character that is not white space, and no controls (a name prefix).
NON_BLANK_PATTERN = _pattern(f"[^{CONTROLS}]*[^{CONTROLS}{WHITE_SPACE}][^{CONTROLS}]*")
# A tag or a filename: no controls (lengths are separate rules).
NO_CONTROLS_PATTERN = _pattern(f"[^{CONTROLS}]*")
# A description: no controls except tab and newline.
DESCRIPTION_PATTERN = _pattern(f"[^{CONTROLS_BUT_TAB_AND_NEWLINE}]*")

_NAME = re.compile(NAME_PATTERN[1:-1])
_NO_CONTROLS = re.compile(NO_CONTROLS_PATTERN[1:-1])
_DESCRIPTION = re.compile(DESCRIPTION_PATTERN[1:-1])
_UNSAFE_IN_MESSAGES = re.compile(f'[{CONTROLS}\\u2028\\u2029\\ud800-\\udfff"\\\\]')

MAX_SHOWN = 80


def is_valid_name(value: str) -> bool:
    return _NAME.fullmatch(value) is not None


def has_no_controls(value: str) -> bool:
    return _NO_CONTROLS.fullmatch(value) is not None


def is_valid_description(value: str) -> bool:
    return _DESCRIPTION.fullmatch(value) is not None


def shown(value: str, limit: int = MAX_SHOWN) -> str:
    """Client text as it may appear in an error message: at most ``limit`` characters (then
    ``...``), with controls, line separators, quotes and backslashes escaped, so a message is
    bounded and never displays as something else."""
    clipped = value[:limit]
    escaped = _UNSAFE_IN_MESSAGES.sub(lambda m: f"\\u{ord(m.group()):04x}", clipped)
    return escaped + ("..." if len(value) > limit else "")
