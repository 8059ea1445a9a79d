"""Authentication over real HTTP: ``chalice local`` runs the same authorizer as Lambda, with the
keys moto's server publishes for the local user pool and the stand-in's for machine clients.

People sign in with their password at moto (the real user pools API); machine clients get their
tokens from the stand-in's token endpoint with their client secret. Every refusal is a 401 and
stores nothing; a viewer's or a read-only client's write is a 403 in the app's shape.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
import requests
from moto.utilities.utils import load_resource

from chalicelib.schema import ITEM_RECORD
from localdev.identity import LOCAL_USERS, MachineClient, sign_in
from localdev.signing import SigningKey
from tests.integration.harness import LiveApi

pytestmark = pytest.mark.integration


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _moto_signed(claims: dict[str, Any]) -> str:
    """A token signed with the emulator's own key (what only moto itself could issue)."""
    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": "dummy"})


def _machine_token(live: LiveApi, machine: MachineClient) -> requests.Response:
    assert live.stand_in is not None
    return requests.post(
        f"{live.stand_in.url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(machine.client_id, machine.secret),
        timeout=10,
    )


def _machine(live: LiveApi, scope: str) -> MachineClient:
    assert live.identity is not None
    return next(
        m
        for m in live.identity.machine_clients.values()
        if scope in m.scopes and (scope == "items/write" or "items/write" not in m.scopes)
    )


def _count(live: LiveApi) -> int:
    """How many items are stored (their own records, not their filter entries)."""
    scanned = live.aws("dynamodb").scan(
        TableName=live.items_table,
        Select="COUNT",
        FilterExpression="sk = :item",
        ExpressionAttributeValues={":item": {"S": ITEM_RECORD}},
        ConsistentRead=True,
    )
    return int(scanned["Count"])


def _unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["Content-Type"] == "application/json"


@pytest.fixture(scope="module")
def refused_tokens(live: LiveApi) -> dict[str, str]:
    """A token for every refusal the contract lists, built from real local tokens."""
    assert live.identity is not None
    assert live.stand_in is not None
    editor = live.token("editor")
    claims = _claims(editor)
    now = int(time.time())
    header, payload, signature = editor.split(".")
    widened = {**claims, "cognito:groups": ["editors", "admins"], "username": "mallory"}
    cognito = live.identity.cognito()
    other_pool = cognito.create_user_pool(PoolName="another-pool")["UserPool"]["Id"]
    other_pool_client = cognito.create_user_pool_client(
        UserPoolId=other_pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=other_pool, Username="editor", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=other_pool, Username="editor", Password=LOCAL_USERS["editor"][1], Permanent=True
    )
    other_client = cognito.create_user_pool_client(
        UserPoolId=live.identity.pool_id,
        ClientName="not-trusted",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]

    def password_sign_in(client_id: str) -> str:
        token: str = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "editor", "PASSWORD": LOCAL_USERS["editor"][1]},
        )["AuthenticationResult"]["AccessToken"]
        return token

    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "dummy"}).encode())
    return {
        "expired": _moto_signed({**claims, "iat": now - 7200, "exp": now - 3600}),
        "not yet valid": _moto_signed({**claims, "nbf": now + 600}),
        "tampered": ".".join([header, _b64(json.dumps(widened).encode()), signature]),
        "another key": SigningKey(kid="dummy").sign(claims),
        "another pool": password_sign_in(other_pool_client),
        "another client": password_sign_in(other_client),
        "alg none": f"{none_header}.{payload}.",
        # A machine token of the stand-in's issuer, for a client it is not trusted for.
        "stand-in key, pool issuer": live.stand_in.key.sign(claims),
    }


def test_a_signed_in_editor_writes_and_is_recorded(live: LiveApi) -> None:
    created = live.request("POST", "/items", {"name": "by a person"})

    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "editor"
    assert created.json()["updated_by"] == "editor"


def test_a_viewer_reads_but_a_write_is_a_403_that_stores_nothing(live: LiveApi) -> None:
    item = live.create_item("viewed")
    viewer = live.token("viewer")
    before = _count(live)

    assert live.request("GET", f"/items/{item['id']}", token=viewer).status_code == 200
    for method, path, body in (
        ("POST", "/items", {"name": "x"}),
        ("PATCH", f"/items/{item['id']}", {"name": "y"}),
        ("DELETE", f"/items/{item['id']}", None),
    ):
        refused = live.request(method, path, body, token=viewer)
        assert refused.status_code == 403, refused.text
        assert refused.headers["Content-Type"] == "application/json"
        assert refused.json()["Code"] == "ForbiddenError"
        assert "needs items/write" in refused.json()["Message"]
    assert _count(live) == before
    assert live.request("GET", f"/items/{item['id']}").json() == item


def test_machine_clients_get_tokens_for_their_scopes_and_write_as_themselves(
    live: LiveApi,
) -> None:
    writer, reader = _machine(live, "items/write"), _machine(live, "items/read")
    writer_token = _machine_token(live, writer).json()["access_token"]
    reader_token = _machine_token(live, reader).json()["access_token"]
    before = _count(live)

    created = live.request("POST", "/items", {"name": "imported"}, token=writer_token)
    refused = live.request("POST", "/items", {"name": "x"}, token=reader_token)
    listed = live.request("GET", "/items?limit=1", token=reader_token)

    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == writer.client_id
    assert refused.status_code == 403
    assert refused.json()["Message"] == (
        f"POST /items needs items/write; {reader.client_id} has items/read"
    )
    assert listed.status_code == 200
    assert _count(live) == before + 1


def test_the_token_endpoint_refuses_a_wrong_secret_and_unknown_scopes(live: LiveApi) -> None:
    reader = _machine(live, "items/read")
    wrong = MachineClient(reader.name, reader.client_id, "not-the-secret", reader.scopes)
    assert live.stand_in is not None

    assert _machine_token(live, wrong).status_code == 401
    widened = requests.post(
        f"{live.stand_in.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "items/write"},
        auth=(reader.client_id, reader.secret),
        timeout=10,
    )
    assert widened.status_code == 400
    assert widened.json() == {"error": "invalid_scope"}


def test_no_token_is_a_401(live: LiveApi) -> None:
    before = _count(live)
    _unauthorized(live.request("POST", "/items", {"name": "x"}, token=None))
    _unauthorized(live.request("GET", "/items", token=None))
    assert _count(live) == before


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "not yet valid",
        "tampered",
        "another key",
        "another pool",
        "another client",
        "alg none",
        "stand-in key, pool issuer",
    ],
)
def test_every_refused_token_is_a_401_that_stores_nothing(
    live: LiveApi, refused_tokens: dict[str, str], kind: str
) -> None:
    item = live.create_item("guarded")
    before = _count(live)
    token = refused_tokens[kind]

    for method, path, body in (
        ("POST", "/items", {"name": "x"}),
        ("PUT", f"/items/{item['id']}", {"name": "y"}),
        ("DELETE", f"/items/{item['id']}", None),
        ("GET", f"/items/{item['id']}", None),
    ):
        refused = live.request(method, path, body, token=token)
        _unauthorized(refused)
        # Readable by the console, as the deployed gateway response is.
        assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert _count(live) == before
    assert live.request("GET", f"/items/{item['id']}").json() == item


def test_refresh_tokens_renew_a_persons_tokens_through_the_token_endpoint(
    live: LiveApi,
) -> None:
    assert live.identity is not None
    assert live.stand_in is not None
    signed_in = sign_in(live.identity, "viewer", LOCAL_USERS["viewer"][1])

    renewed = requests.post(
        f"{live.stand_in.url}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": live.identity.console_client_id,
            "refresh_token": signed_in["RefreshToken"],
        },
        timeout=10,
    )

    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()["access_token"]
    assert _claims(fresh)["username"] == "viewer"
    assert live.request("GET", "/items?limit=1", token=fresh).status_code == 200


def test_preflights_need_no_token_and_allow_the_authorization_header(live: LiveApi) -> None:
    preflight = live.session.options(
        live.url + "/items",
        headers={
            "Origin": "http://127.0.0.1:8001",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-api-key",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
