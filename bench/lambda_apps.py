"""The other Lambda functions the cold-start figures compare with, written out at bench time.

Each serves the same two routes on the same table as ours (``GET /items/{item_id}``,
``POST /items``) behind an API Gateway REST proxy event, and stores items the same way
(``STORE``, shared by all of them so that their DynamoDB work is identical):

- ``floor``: a plain handler on ``json`` and boto3, the least any Python function can do;
- ``powertools``: Powertools for AWS Lambda's ``APIGatewayRestResolver`` with its pydantic
  validation of the body, on the layer's pins (what a Powertools app has in Lambda);
- ``fastapi``: FastAPI behind Mangum, with its own pins bundled.

They are written into a temporary directory by :func:`write_app` and never committed. Each is
written the way its framework's documentation shows a small CRUD API (the client created at
import), with no logging, metrics or tracing: ours does all three and is still compared with
them as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Item storage shared by every generated app: the shape our API stores, one request each.
STORE = """
import datetime
import json
import os
import uuid
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

TABLE = os.environ["ITEMS_TABLE_NAME"]
client = boto3.client("dynamodb")
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def _number(value):
    return int(value) if value == value.to_integral_value() else float(value)


def to_json(item):
    return json.dumps(item, default=_number, separators=(",", ":"))


# The item record's key, and the attributes that put it into both listing indexes (the shapes
# chalicelib/items/ writes: the same index work on every create).
INTERNAL = ("sk", "all_shard", "status_shard", "created_key")


def get(item_id):
    response = client.get_item(
        TableName=TABLE, Key={"id": {"S": item_id}, "sk": {"S": "item"}}, ConsistentRead=True
    )
    if "Item" not in response:
        return None
    record = {
        k: _deserializer.deserialize(v) for k, v in response["Item"].items() if k not in INTERNAL
    }
    record["version"] = int(record["version"])
    return record


def create(fields):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    item = {
        "description": "",
        "status": "active",
        "tags": [],
        "attributes": {},
        **json.loads(json.dumps(fields), parse_float=Decimal),
        "id": str(uuid.uuid4()),
        "created_at": now.replace("+00:00", "Z"),
        "updated_at": now.replace("+00:00", "Z"),
        "version": 1,
    }
    shard = int(item["id"][:8], 16) % 16
    internal = {
        "sk": "item",
        "all_shard": f"all#{shard}",
        "status_shard": f"{item['status']}#{shard}",
        "created_key": f"{item['created_at']}#{item['id']}",
    }
    client.put_item(
        TableName=TABLE,
        Item={k: _serializer.serialize(v) for k, v in (item | internal).items()},
        ConditionExpression="attribute_not_exists(#id)",
        ExpressionAttributeNames={"#id": "id"},
    )
    return item
"""

FLOOR = """
import json

import items_store


def handler(event, context):
    if event["httpMethod"] == "GET":
        item = items_store.get(event["pathParameters"]["item_id"])
        if item is None:
            return {"statusCode": 404, "body": json.dumps({"message": "not found"})}
        return {"statusCode": 200, "body": items_store.to_json(item)}
    body = json.loads(event["body"] or "null")
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return {"statusCode": 400, "body": json.dumps({"message": "name: required"})}
    item = items_store.create(body)
    return {"statusCode": 201, "body": items_store.to_json(item)}
"""

MODEL = """
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    status: Literal["active", "archived"] = "active"
    tags: list[str] = Field(default_factory=list, max_length=20)
    attributes: dict[str, Any] = Field(default_factory=dict)
"""

POWERTOOLS = (
    MODEL
    + """
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

import items_store

app = APIGatewayRestResolver(enable_validation=True)


# No return annotations: with validation on, Powertools would build a response model from them.
@app.get("/items/<item_id>")
def get_item(item_id: str):
    item = items_store.get(item_id)
    if item is None:
        return Response(404, "application/json", '{"message":"not found"}')
    return Response(200, "application/json", items_store.to_json(item))


@app.post("/items")
def create_item(body: ItemCreate):
    item = items_store.create(body.model_dump())
    return Response(201, "application/json", items_store.to_json(item))


def handler(event, context):
    return app.resolve(event, context)
"""
)

FASTAPI = (
    MODEL
    + """
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from mangum import Mangum

import items_store

api = FastAPI()


@api.get("/items/{item_id}")
def get_item(item_id: str) -> Response:
    item = items_store.get(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="not found")
    return Response(items_store.to_json(item), media_type="application/json")


@api.post("/items", status_code=201)
def create_item(body: ItemCreate) -> Response:
    item = items_store.create(body.model_dump())
    return Response(items_store.to_json(item), status_code=201, media_type="application/json")


handler = Mangum(api, lifespan="off")
"""
)


@dataclass(frozen=True)
class GeneratedApp:
    """One generated function: its source, what it needs besides the runtime's SDK."""

    name: str
    source: str
    requirements: tuple[str, ...]  # pip lines; the layer's pins for a Powertools app
    handler: str = "app.handler"


def write_app(app: GeneratedApp, directory: Path) -> Path:
    """Write ``app`` into ``directory`` (its ``/var/task``) and return that directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(app.source.lstrip())
    (directory / "items_store.py").write_text(STORE.lstrip())
    return directory
