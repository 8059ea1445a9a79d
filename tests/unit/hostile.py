"""What the hardening tests and the fuzzers check about every answer to a hostile request:
the error shape, that a refused request wrote nothing, which AWS requests were sent, and a
reference reading of ``If-Match`` (RFC 9110) to compare the server with.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3

from tests.unit.harness import BUCKET, IDEMPOTENCY, INTERNAL_NAMES, ITEMS, InProcessApi, Reply

# The longest Message any error may have: ids and keys are echoed only up to a bounded length.
MAX_MESSAGE_LENGTH = 600


def error_problems(reply: Reply) -> list[str]:
    """Why ``reply`` is not an error in the contract's shape (empty: it is)."""
    problems: list[str] = []
    if reply.header("Content-Type") != "application/json":
        problems.append(f"Content-Type is {reply.header('Content-Type')!r}")
    try:
        body = json.loads(reply.body)
    except ValueError:
        return [*problems, f"body is not JSON: {reply.body[:200]!r}"]
    if not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return [*problems, f"body is not {{Code, Message}}: {body!r:.200}"]
    message = body["Message"]
    if not isinstance(message, str) or not isinstance(body["Code"], str):
        return [*problems, "Code and Message must be strings"]
    if len(message) > MAX_MESSAGE_LENGTH:
        problems.append(f"Message is {len(message)} characters long")
    if re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", message):
        problems.append(f"Message carries control characters: {message[:200]!r}")
    for word in (*INTERNAL_NAMES, "Traceback", "Exception", "botocore"):
        if word in message:
            problems.append(f"Message names {word!r}")
    return problems


def assert_error(reply: Reply, status: int, names: str | None = None) -> None:
    assert reply.status == status, reply.body[:500]
    assert error_problems(reply) == []
    if names is not None:
        message = json.loads(reply.body)["Message"]
        assert message.startswith(names), message


class Store:
    """Everything the app can write, read behind its back.

    ``snapshot`` reads moto's in-process backends directly: the exact stored state, without the
    cost of a request per table (the fuzzers take one before and after every example).
    """

    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb")
        self.s3 = boto3.client("s3")

    @contextlib.contextmanager
    def unchanged(self) -> Iterator[None]:
        """Fail unless everything the app can write is exactly as before the block."""
        before = self.snapshot()
        yield
        assert self.snapshot() == before, "a refused request changed what is stored"

    def snapshot(self) -> dict[str, Any]:
        from moto.backends import get_backend
        from moto.core.models import DEFAULT_ACCOUNT_ID

        dynamodb = get_backend("dynamodb")[DEFAULT_ACCOUNT_ID][self.dynamodb.meta.region_name]
        s3 = get_backend("s3")[DEFAULT_ACCOUNT_ID]["aws"]

        def table(name: str) -> list[str]:
            items = dynamodb.tables[name].all_items()
            return sorted(json.dumps(item.to_json(), sort_keys=True) for item in items)

        return {
            "items": table(ITEMS),
            "idempotency": table(IDEMPOTENCY),
            "files": sorted(s3.buckets[BUCKET].keys.keys()),
        }

    def scanned(self) -> dict[str, Any]:
        """The same through the AWS API (to check ``snapshot`` against)."""

        def table(name: str) -> list[str]:
            items = self.dynamodb.scan(TableName=name, ConsistentRead=True)["Items"]
            return sorted(json.dumps({"Attributes": item}, sort_keys=True) for item in items)

        listing = self.s3.list_objects_v2(Bucket=BUCKET)
        return {
            "items": table(ITEMS),
            "idempotency": table(IDEMPOTENCY),
            "files": sorted(entry["Key"] for entry in listing.get("Contents", [])),
        }


class AwsRequests:
    """Counts the requests the app's own clients send (DynamoDB and S3)."""

    def __init__(self, api: InProcessApi) -> None:
        self.sent: list[str] = []
        for service in ("dynamodb", "s3"):
            client = api.app_client(service)
            client.meta.events.register(f"before-send.{service}", self._record)

    def _record(self, request: Any, **_: Any) -> None:
        self.sent.append(f"{request.method} {request.url}")


# -- a reference reading of If-Match, written apart from the server's ---------------------------

_ETAGC = set(range(0x21, 0x7F)) - {0x22} | set(range(0x80, 0x100))


def reference_if_match(value: str, version: int) -> str:  # noqa: PLR0911, PLR0912 - a parser
    """What RFC 9110 (plus the contract's bare integer) says ``If-Match: value`` does for an item
    at ``version``: ``"invalid"`` (a 400), ``"match"`` or ``"mismatch"`` (a 412).

    A character-by-character parse of ``#entity-tag``, deliberately unlike the server's regular
    expression, so the two can be compared.
    """
    if value.strip(" \t") == "*":
        return "match"
    members: list[tuple[bool, str]] = []
    i, n = 0, len(value)
    expect_member = True
    while i < n:
        ch = value[i]
        if ch in " \t":
            i += 1
        elif ch == ",":
            expect_member = True
            i += 1
        elif not expect_member:
            return "invalid"
        elif value.startswith('W/"', i) or ch == '"':
            weak = ch == "W"
            start = i + (3 if weak else 1)
            end = start
            while end < n and value[end] != '"':
                if ord(value[end]) not in _ETAGC:
                    return "invalid"
                end += 1
            if end >= n:
                return "invalid"
            members.append((weak, value[start:end]))
            i, expect_member = end + 1, False
        elif "0" <= ch <= "9":
            end = i
            while end < n and "0" <= value[end] <= "9":
                end += 1
            members.append((False, value[i:end]))
            i, expect_member = end, False
        else:
            return "invalid"
    if not members:
        return "invalid"
    strong = {opaque for weak, opaque in members if not weak}
    return "match" if str(version) in strong else "mismatch"


# -- the document as an oracle: would it accept this body? --------------------------------------


def _is_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, (int, float, Decimal)) and not isinstance(instance, bool)


def _is_integer(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return isinstance(instance, int)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """``pattern`` as ECMA-262 reads ``^...$`` (``$`` is the very end, never before a final
    newline, unlike Python's); the document's patterns are all anchored so."""
    from jsonschema.exceptions import ValidationError as SchemaError

    if not isinstance(instance, str):
        return
    anchored = pattern.startswith("^") and pattern.endswith("$")
    found = re.fullmatch(pattern[1:-1], instance) if anchored else re.search(pattern, instance)
    if found is None:
        yield SchemaError(f"{instance!r:.60} does not match {pattern!r:.60}")


def _depth(value: Any) -> int:
    pending, deepest = [(value, 1)], 0
    while pending:
        node, depth = pending.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend(
                (child, depth + 1) for child in (node.values() if isinstance(node, dict) else node)
            )
    return deepest


def _max_depth(validator: Any, limit: int, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError as SchemaError

    if isinstance(instance, dict) and _depth(instance) > limit:
        yield SchemaError(f"deeper than {limit} levels")


def _max_json_bytes(validator: Any, limit: int, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError as SchemaError

    from chalicelib.jsonio import dumps

    if isinstance(instance, dict) and len(dumps(instance).encode()) > limit:
        yield SchemaError(f"larger than {limit} bytes")


def _max_significant_digits(
    validator: Any, limit: int, instance: Any, schema: Any
) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError as SchemaError

    if _is_number(None, instance):
        digits = "".join(map(str, Decimal(instance).as_tuple().digits)).rstrip("0")
        if len(digits) > limit:
            yield SchemaError(f"more than {limit} significant digits")


class DocumentOracle:
    """Whether the served OpenAPI document admits a raw request body: parsing as JSON text
    allows (strictly: no duplicate keys, NaN or lone surrogates), then the request schema of the
    operation, its ``x-`` extensions included. The fuzzers compare the server with this."""

    def __init__(self, document: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator, validators
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        checker = Draft202012Validator.TYPE_CHECKER.redefine_many(
            {"number": _is_number, "integer": _is_integer}
        )
        self._class = validators.extend(
            Draft202012Validator,
            {
                "pattern": _ecma_pattern,
                "x-max-depth": _max_depth,
                "x-max-json-bytes": _max_json_bytes,
                "x-max-significant-digits": _max_significant_digits,
            },
            type_checker=checker,
        )
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource("urn:document", resource)

    def validator(self, schema_name: str) -> Any:
        schema = {"$ref": f"urn:document#/components/schemas/{schema_name}"}
        return self._class(schema, registry=self._registry)

    def verdict(self, schema_name: str, raw: bytes) -> int | None:
        """``None`` when the document admits ``raw``, else the status it calls for (400, 413)."""
        if len(raw) > 64 * 1024:
            return 413
        body = parse_strictly(raw)
        if not isinstance(body, dict):
            return 400
        return None if self.validator(schema_name).is_valid(body) else 400


class _InvalidJsonError(Exception):
    pass


def parse_strictly(raw: bytes) -> Any:
    """A JSON text as the contract reads it, or ``_InvalidJsonError`` (returned, not raised)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in items}) != len(items):
            raise _InvalidJsonError
        return dict(items)

    def constant(_: str) -> Any:
        raise _InvalidJsonError

    def number(text: str) -> Decimal:
        try:
            return Decimal(text)
        except ArithmeticError as exc:  # beyond any decimal: no field takes it
            raise _InvalidJsonError from exc

    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            parse_float=number,
            parse_int=number,
            parse_constant=constant,
            object_pairs_hook=pairs,
        )
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")  # lone surrogates
    except (_InvalidJsonError, ValueError, RecursionError, UnicodeError):
        return _InvalidJsonError()
    return value
