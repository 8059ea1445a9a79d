"""moto's server, as `make run` and the tests run it, with DynamoDB's atomic writes.

DynamoDB applies a conditional write atomically: of two concurrent ``UpdateItem`` calls whose
condition names the same version, one writes and the other fails its condition. moto's
threaded server checks the condition and writes without a lock, so both can win: eight
concurrent ``PATCH``es with one ``If-Match`` had two winners in about one burst in eight (more
once ``chalice local`` stopped refusing connections beyond five). This serves moto's own WSGI
application with DynamoDB requests taken one at a time, which is what makes conditions hold;
moto answers each in milliseconds. Everything else (S3 uploads) stays concurrent.

It also honours ``TransactWriteItems``' ``ClientRequestToken``, which moto ignores. botocore fills
the token in once per call and sends it again on every retry; DynamoDB answers a repeat of a
completed, successful transaction with the same token (within 10 minutes) with success and
changes nothing, and a repeat with other parameters with ``IdempotentParameterMismatchException``.
Without that, a create whose first attempt was applied but answered after the client's read
timeout failed its own ``attribute_not_exists`` condition on the retry: a 500 for a write that
had succeeded.

And moto 5.2's ``TransactWriteItems`` backs up the whole table (items, indexes and stream
records) with ``copy.deepcopy`` once *per action*: the API's create is one item and up to nine
filter entries, so each create copied the table ten times and creates grew slower with every item
stored (past botocore's 1.5 s read timeout after a few hundred items on a loaded machine: 503s).
``copy_each_table_once`` keeps moto's rollback but copies each table once per transaction.

And moto's ``Query`` walks the whole table, sorted, for every call: on an index it checks each
item's index key against the queried value. A filtered listing makes up to 128 index queries
(16 shards x 2 statuses x 4 fill rounds), each sorting every entry of the table, one at a time
behind the lock: past the 1.5 s read timeout with a few hundred items (503s).
``query_by_partition`` keeps, per table and index, the items under each partition key value, up
to date on every write, and hands moto's own ``Query`` only the queried partition's items, in the
order moto's walk would have met them: the same answer, for the cost of the partition.

``python -m localdev.moto_server -H HOST -p PORT`` (run through ``localdev.guard``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# X-Amz-Target of DynamoDB's JSON protocol (and of its streams): DynamoDB_20120810.UpdateItem
SERIALIZED_TARGETS = ("DynamoDB_", "DynamoDBStreams_")
TRANSACT_WRITE_TARGET = "DynamoDB_20120810.TransactWriteItems"
# How long DynamoDB holds a client request token after its transaction completed.
TOKEN_LIFETIME_SECONDS = 600.0


class _Answer:
    """A WSGI answer's status and headers, recorded so that it can be given again."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        self.status, self.headers = status, list(headers)


class TransactionTokens:
    """Successful ``TransactWriteItems`` answers by client request token, as DynamoDB keeps them.

    Called with the serializing lock held, so a token's first use and its replay never overlap.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # token -> (digest of the request's other parameters, status, headers, body, completed at)
        self._completed: dict[str, tuple[str, str, list[tuple[str, str]], bytes, float]] = {}

    def handle(
        self, app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        token = request.pop("ClientRequestToken", None) if isinstance(request, dict) else None
        if not isinstance(token, str):
            return list(app(environ, start_response))
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        now = self._clock()
        self._completed = {
            t: kept for t, kept in self._completed.items() if now - kept[4] < TOKEN_LIFETIME_SECONDS
        }
        if token in self._completed:
            seen, status, headers, answer, _ = self._completed[token]
            if seen != digest:
                return self._mismatch(start_response)
            start_response(status, headers)
            return [answer]
        recorded = _Answer()
        answer = b"".join(app(environ, recorded.start_response))
        if recorded.status.startswith("200"):
            self._completed[token] = (digest, recorded.status, recorded.headers, answer, now)
        start_response(recorded.status, recorded.headers)
        return [answer]

    @staticmethod
    def _mismatch(start_response: Callable[..., Any]) -> list[bytes]:
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "message": "The request uses the same client token as a previous, but non-identical"
                " request.",
            }
        ).encode()
        start_response(
            "400 Bad Request",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
        )
        return [body]


def serialize_dynamodb(app: WsgiApp) -> WsgiApp:
    """``app`` with DynamoDB requests handled one at a time, each answered in full, and
    transactions' client request tokens honoured (:class:`TransactionTokens`)."""
    lock = threading.Lock()
    tokens = TransactionTokens()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(SERIALIZED_TARGETS):
            with lock:
                if target == TRANSACT_WRITE_TARGET:
                    return tokens.handle(app, environ, start_response)
                return list(app(environ, start_response))
        return app(environ, start_response)

    return application


def copy_each_table_once() -> None:
    """Patch moto's ``transact_write_items`` so its backup copies each table once per call.

    moto copies ``self.tables[name]`` for every action of the transaction into a dict keyed by
    table name, so all but the last copy of a table are thrown away; returning the first copy
    again is the same backup. Only ``Table`` objects are memoized, and only during the call.
    """
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    class CopyOncePerTable:
        def __init__(self) -> None:
            self.tables: dict[int, Any] = {}

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table):
                if id(value) not in self.tables:
                    self.tables[id(value)] = copy.deepcopy(value, memo)
                return self.tables[id(value)]
            return copy.deepcopy(value, memo)

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        # DynamoDB requests are serialized (serialize_dynamodb), so no other call sees the shim.
        vars(models)["copy"] = CopyOncePerTable()
        try:
            original(self, transact_items)
        finally:
            vars(models)["copy"] = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# Backend calls that change no table: they leave the partitions as they are. The writes that go
# through Table.put_item / Table.delete_item / DynamoDBBackend.update_item (every item write:
# transactions, batches and PartiQL call those) keep them up to date, and any other call (a
# table created, restored or changed, or one moto may add) drops them, to be rebuilt on the
# next query.
READ_CALLS = frozenset(
    {"query", "scan", "batch_get_item", "transact_get_items", "iter_tagged_resources"}
)
READ_PREFIXES = ("get_", "describe_", "list_", "default_")
ITEM_WRITE_CALLS = frozenset(
    {
        "put_item",
        "delete_item",
        "update_item",
        "transact_write_items",
        "batch_write_item",
        "execute_statement",
        "batch_execute_statement",
        "execute_transaction",
    }
)


class Partitions:
    """One table's items by index and index partition key value, kept up to date on writes.

    ``signature`` is the table's indexes (name and partition key attributes) it was built for;
    a table whose indexes changed gets new partitions.
    """

    def __init__(self, table: Any) -> None:
        self.signature = index_signature(table)
        self.by_index: dict[str, dict[Any, dict[Any, Any]]] = {
            name: {} for name, _ in self.signature
        }
        # primary key -> the (index, partition) buckets the item is in
        self.placed: dict[Any, list[tuple[str, Any]]] = {}
        for item in stored_items(table):
            self.place(item)

    def place(self, item: Any) -> None:
        key = (item.hash_key, item.range_key)
        buckets = self.placed.setdefault(key, [])
        for name, attributes in self.signature:
            values = tuple(item.attrs.get(attribute) for attribute in attributes)
            if any(value is None for value in values):
                continue  # not in this index: moto's query skips it too
            try:
                hash(values)
            except TypeError:
                # A list, say (DynamoDB would have refused the write; moto stores it): equal to
                # no queried value (those are strings, numbers or binary), so in no partition.
                continue
            self.by_index[name].setdefault(values, {})[key] = item
            buckets.append((name, values))

    def remove(self, key: Any) -> None:
        for name, values in self.placed.pop(key, []):
            bucket = self.by_index[name][values]
            bucket.pop(key, None)
            if not bucket:
                del self.by_index[name][values]

    def refresh(self, table: Any, hash_key: Any, range_key: Any) -> None:
        """Re-file the item stored under this primary key (or forget it: deleted)."""
        key = (hash_key, range_key)
        self.remove(key)
        stored = dict.get(table.items, hash_key)
        if table.range_key_attr is not None and isinstance(stored, dict):
            stored = stored.get(range_key)
        if stored is not None and not isinstance(stored, dict):
            self.place(stored)

    def candidates(self, index_name: str, values: tuple[Any, ...]) -> list[Any]:
        return list(self.by_index[index_name].get(values, {}).values())


def index_signature(table: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(
        (
            index.name,
            tuple(key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"),
        )
        for index in table.all_indexes()
    )


def stored_items(table: Any) -> Iterator[Any]:
    """The table's items, unsorted (moto's ``all_items`` sorts them all)."""
    for stored in table.items.values():
        if table.range_key_attr is not None:
            yield from stored.values()
        else:
            yield stored


class PartitionIndex:
    """The partitions of every table, built on a table's first query and kept up to date."""

    def __init__(self) -> None:
        self._tables: weakref.WeakKeyDictionary[Any, Partitions] = weakref.WeakKeyDictionary()

    def of(self, table: Any) -> Partitions:
        partitions = self._tables.get(table)
        if partitions is None or partitions.signature != index_signature(table):
            partitions = self._tables[table] = Partitions(table)
        return partitions

    def kept(self, table: Any) -> Partitions | None:
        """The table's partitions as they are (none before its first query)."""
        return self._tables.get(table)

    def refresh(self, table: Any, hash_key: Any, range_key: Any) -> None:
        partitions = self._tables.get(table)
        if partitions is not None:
            partitions.refresh(table, hash_key, range_key)

    def forget(self, table: Any | None = None) -> None:
        if table is None:
            self._tables.clear()
        else:
            self._tables.pop(table, None)


class PartitionOnly:
    """A table as moto's ``Table.query`` sees it: all of it, except that ``all_items()`` is the
    queried partition's items. Their order does not matter: moto sorts what matches by the
    index's keys and then the table's, a total order."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def partition_of_query(
    partitions: PartitionIndex, table: Any, arguments: dict[str, Any]
) -> list[Any] | None:
    """The items that can match this query (a superset of moto's matches), or ``None`` when
    the query is not one partition's (moto then walks the table as it always does)."""
    index_name = arguments.get("index_name")
    if index_name:
        return index_partition(partitions, table, index_name, arguments)
    hash_key = arguments.get("hash_key")
    if hash_key is None:
        return None
    try:
        stored = dict.get(table.items, hash_key)
    except TypeError:
        return None
    if stored is None:
        return []
    return list(stored.values()) if table.range_key_attr is not None else [stored]


def index_partition(
    partitions: PartitionIndex, table: Any, index_name: str, arguments: dict[str, Any]
) -> list[Any] | None:
    """The index partition whose key the query's equality conditions name, all of it."""
    conditions = dict(arguments.get("hash_key_conditions") or [])
    attributes = dict(index_signature(table)).get(index_name)
    if not conditions or attributes is None or set(conditions) != set(attributes):
        return None
    values = tuple(conditions[attribute] for attribute in attributes)
    try:
        hash(values)
    except TypeError:
        return None
    return partitions.of(table).candidates(index_name, values)


def forget_on_other_calls(backend: type, partitions: PartitionIndex) -> None:
    """Wrap every public call of ``backend`` that is neither a read nor an item write (those
    keep the partitions up to date) so that it drops all partitions when it returns."""

    def forgetting(call: Callable[..., Any]) -> Callable[..., Any]:
        def forget_after(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return call(self, *args, **kwargs)
            finally:
                partitions.forget()

        return forget_after

    for name, value in list(vars(backend).items()):
        if (
            callable(value)
            and not name.startswith("_")
            and name not in READ_CALLS | ITEM_WRITE_CALLS
            and not name.startswith(READ_PREFIXES)
        ):
            setattr(backend, name, forgetting(value))


def primary_key(
    table: Any, attributes: dict[str, Any], dynamo_type: Callable[[Any], Any]
) -> tuple[Any, Any] | None:
    """The (hash, range) key of ``attributes`` as moto stores it; ``None`` if they have none."""
    try:
        hash_key = dynamo_type(attributes[table.hash_key_attr])
        range_attr = table.range_key_attr
        range_key = dynamo_type(attributes[range_attr]) if range_attr is not None else None
    except (KeyError, TypeError, AttributeError):
        return None
    return hash_key, range_key


def query_by_partition() -> PartitionIndex:
    """Patch moto so that a ``Query`` reads only the partition it names (see the module's
    docstring). Returns the partitions, for tests."""
    import inspect

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    partitions = PartitionIndex()
    original_query = Table.query
    original_put = Table.put_item
    original_delete = Table.delete_item
    original_update = models.DynamoDBBackend.update_item
    query_signature = inspect.signature(original_query)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = query_signature.bind(self, *args, **kwargs).arguments
        candidates = partition_of_query(partitions, self, arguments)
        if candidates is None:
            return original_query(self, *args, **kwargs)
        only = PartitionOnly(self, candidates)
        return original_query(only, *args, **kwargs)  # type: ignore[arg-type]

    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original_put(self, item_attrs, *args, **kwargs)
        finally:
            key = primary_key(self, item_attrs, DynamoType)
            if key is not None:  # else moto refused the item before storing anything
                partitions.refresh(self, *key)

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original_delete(self, hash_key, range_key)
        finally:
            partitions.refresh(self, hash_key, range_key)

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kw: Any) -> Any:
        # moto changes the stored item in place: re-file it afterwards, even when the update
        # failed half-way.
        try:
            return original_update(self, table_name, key, *args, **kw)
        finally:
            table = self.tables.get(table_name)
            if table is not None:
                key_values = primary_key(table, key, DynamoType)
                if key_values is None:
                    partitions.forget(table)
                else:
                    partitions.refresh(table, *key_values)

    forget_on_other_calls(models.DynamoDBBackend, partitions)
    Table.query = query  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    models.DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    return partitions


def main(argv: list[str]) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(prog="localdev.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    copy_each_table_once()
    query_by_partition()
    run_simple(
        args.host,
        args.port,
        serialize_dynamodb(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
