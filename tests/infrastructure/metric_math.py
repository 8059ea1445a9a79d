"""A type checker for CloudWatch metric math, from AWS's table of functions and their arguments.

CloudWatch refuses an expression whose functions get arguments of the wrong type (for example
``MAX([invocations, 1])``: "Unsupported operand type(s) for MAX", an array may hold time series
only) when the alarm is created, which rolls the stack back; no linter knows. The signatures
below are those of "Metric math syntax and functions" in the CloudWatch User Guide
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html). A
function missing here fails the check until its documented signature is added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

SCALAR = "S"
SERIES = "TS"
SERIES_ARRAY = "TS[]"
STRING = "STR"

# name -> {argument types: result type}; "S|TS" style alternatives are spelled out.
Signature = dict[tuple[str, ...], str]
_ELEMENTWISE: Signature = {(SERIES,): SERIES, (SERIES_ARRAY,): SERIES_ARRAY}
_REDUCING: Signature = {(SERIES,): SCALAR, (SERIES_ARRAY,): SERIES}
SIGNATURES: dict[str, Signature] = {
    "ABS": {**_ELEMENTWISE, (SCALAR,): SCALAR},
    "AVG": _REDUCING,
    "CEIL": _ELEMENTWISE,
    "FLOOR": _ELEMENTWISE,
    "DIFF": _ELEMENTWISE,
    "DIFF_TIME": _ELEMENTWISE,
    "RATE": _ELEMENTWISE,
    "RUNNING_SUM": _ELEMENTWISE,
    "LOG": _ELEMENTWISE,
    "LOG10": _ELEMENTWISE,
    "MAX": _REDUCING,
    "MIN": _REDUCING,
    "SUM": _REDUCING,
    "STDDEV": _REDUCING,
    "PERIOD": {(SERIES,): SCALAR},
    "TIME_SERIES": {(SCALAR,): SERIES},
    "REMOVE_EMPTY": {(SERIES_ARRAY,): SERIES_ARRAY},
    "METRICS": {(): SERIES_ARRAY, (STRING,): SERIES_ARRAY},
    "FILL": {
        (first, second): first
        for first in (SERIES, SERIES_ARRAY)
        for second in (SCALAR, SERIES, STRING)  # REPEAT and LINEAR are keywords, read as STR
    },
    "IF": {
        (SERIES, then, otherwise): SERIES
        for then in (SCALAR, SERIES)
        for otherwise in (SCALAR, SERIES)
    },
}
_KEYWORDS = {"REPEAT", "LINEAR"}


class MetricMathError(ValueError):
    """An expression CloudWatch would refuse."""


@dataclass
class _Tokens:
    items: list[str]
    position: int = 0

    def peek(self) -> str | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise MetricMathError(f"expected {expected or 'more'} at {token!r}")
        self.position += 1
        return token


_TOKEN = re.compile(
    r"\s*(?:(\d+(?:\.\d+)?)|(\"[^\"]*\"|'[^']*')|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|&&|\|\||.))"
)


def _tokenize(expression: str) -> list[str]:
    tokens = []
    for match in _TOKEN.finditer(expression.strip()):
        token = next(group for group in match.groups() if group is not None)
        tokens.append(token)
    return tokens


def infer(expression: str, variables: Mapping[str, str]) -> str:
    """The type of ``expression`` given the types of the ids it uses; raises if CloudWatch would."""
    tokens = _Tokens(_tokenize(expression))
    result = _logical(tokens, variables)
    if tokens.peek() is not None:
        raise MetricMathError(f"unexpected {tokens.peek()!r} in {expression!r}")
    return result


def _combine(left: str, right: str, operator: str) -> str:
    kinds = {left, right}
    if STRING in kinds:
        raise MetricMathError(f"a string cannot be an operand of {operator!r}")
    if SERIES_ARRAY in kinds:
        if kinds == {SERIES_ARRAY}:
            raise MetricMathError(f"two arrays of time series cannot be combined by {operator!r}")
        return SERIES_ARRAY
    return SERIES if SERIES in kinds else SCALAR


def _logical(tokens: _Tokens, variables: Mapping[str, str]) -> str:
    result = _comparison(tokens, variables)
    while tokens.peek() in ("AND", "OR", "&&", "||"):
        operator = tokens.take()
        result = _combine(result, _comparison(tokens, variables), operator)
    return result


def _comparison(tokens: _Tokens, variables: Mapping[str, str]) -> str:
    result = _sum(tokens, variables)
    if tokens.peek() in (">", "<", ">=", "<=", "==", "!="):
        operator = tokens.take()
        result = _combine(result, _sum(tokens, variables), operator)
    return result


def _sum(tokens: _Tokens, variables: Mapping[str, str]) -> str:
    result = _product(tokens, variables)
    while tokens.peek() in ("+", "-"):
        operator = tokens.take()
        result = _combine(result, _product(tokens, variables), operator)
    return result


def _product(tokens: _Tokens, variables: Mapping[str, str]) -> str:
    result = _power(tokens, variables)
    while tokens.peek() in ("*", "/"):
        operator = tokens.take()
        result = _combine(result, _power(tokens, variables), operator)
    return result


def _power(tokens: _Tokens, variables: Mapping[str, str]) -> str:
    result = _unary(tokens, variables)
    if tokens.peek() == "^":
        tokens.take()
        result = _combine(result, _power(tokens, variables), "^")
    return result


def _unary(tokens: _Tokens, variables: Mapping[str, str]) -> str:
    if tokens.peek() == "-":
        tokens.take()
        return _unary(tokens, variables)
    return _primary(tokens, variables)


def _primary(tokens: _Tokens, variables: Mapping[str, str]) -> str:
    token = tokens.take()
    if token == "(":
        result = _logical(tokens, variables)
        tokens.take(")")
        return result
    if token == "[":
        elements = [_logical(tokens, variables)]
        while tokens.peek() == ",":
            tokens.take()
            elements.append(_logical(tokens, variables))
        tokens.take("]")
        if set(elements) != {SERIES}:
            raise MetricMathError(f"an array may hold time series only, not {elements}")
        return SERIES_ARRAY
    if re.fullmatch(r"\d+(\.\d+)?", token):
        return SCALAR
    if token[0] in "\"'" or token in _KEYWORDS:
        return STRING
    if tokens.peek() == "(":
        return _call(token, tokens, variables)
    if token not in variables:
        raise MetricMathError(f"{token!r} is not the id of a query of this alarm")
    return variables[token]


def _call(name: str, tokens: _Tokens, variables: Mapping[str, str]) -> str:
    tokens.take("(")
    arguments: list[str] = []
    if tokens.peek() != ")":
        arguments.append(_logical(tokens, variables))
        while tokens.peek() == ",":
            tokens.take()
            arguments.append(_logical(tokens, variables))
    tokens.take(")")
    if name not in SIGNATURES:
        raise MetricMathError(f"{name}: add its documented signature to SIGNATURES first")
    signature = tuple(arguments)
    if signature not in SIGNATURES[name]:
        raise MetricMathError(f"Unsupported operand type(s) for {name}: {list(signature)}")
    return SIGNATURES[name][signature]


def alarm_expression_type(metrics: list[dict[str, object]]) -> str:
    """The type of what an alarm's queries return (the one query with ReturnData true)."""
    types: dict[str, str] = {}
    returned: list[str] = []
    # Queries may refer to others defined later; resolve metrics first, then expressions.
    for query in metrics:
        if "MetricStat" in query:
            types[str(query["Id"])] = SERIES
    pending = [q for q in metrics if "Expression" in q]
    while pending:
        progressed = False
        for query in list(pending):
            try:
                types[str(query["Id"])] = infer(str(query["Expression"]), types)
            except MetricMathError as error:
                if "is not the id" not in str(error):
                    raise
                continue
            pending.remove(query)
            progressed = True
        if not progressed:
            raise MetricMathError(f"unresolvable ids in {[q['Expression'] for q in pending]}")
    for query in metrics:
        if query.get("ReturnData", True):
            returned.append(types[str(query["Id"])])
    if len(returned) != 1:
        raise MetricMathError(f"an alarm returns exactly one query, not {len(returned)}")
    return returned[0]
