"""Local sign-in: the user pool in moto's Cognito, and a stand-in for what moto lacks.

``bootstrap_identity`` creates, in moto's server, what the stack creates in Cognito: the user
pool (invite-only, strong password policy, optional TOTP), the ``viewers`` and ``editors``
groups, an ``editor`` and a ``viewer`` user, the ``items`` resource server with its two scopes,
the console's public client and the machine clients of ``infrastructure/cdk.json``
(``apiClients``).

moto implements the user pools API (sign-in with a password, refresh, revoke, a JWKS per pool)
but not a user pool's domain: no managed login, no OAuth 2.0 token endpoint, so no
authorization code flow and no client credentials. ``IdentityStandIn`` serves those on loopback,
the way Cognito's domain serves them:

- ``GET /oauth2/authorize`` shows a sign-in page; the password is checked by moto
  (``InitiateAuth``), and the browser returns to the console with an authorization code;
- ``POST /oauth2/token`` exchanges a code (PKCE S256 required), a refresh token (through moto)
  or a machine client's credentials for tokens;
- ``POST /oauth2/revoke`` and ``GET /logout`` end a session;
- ``GET /.well-known/jwks.json`` publishes the key that signs machine clients' tokens.

People's tokens are moto's own, signed with moto's key and issued by the pool; machine clients'
tokens are signed with the stand-in's key and issued by the stand-in. The API's verifier is the
same code as in Lambda, configured to trust both issuers (``trusted_issuers``). Nothing here runs
in Lambda.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from chalicelib.auth.permissions import (
    EDITORS,
    GROUP_PERMISSIONS,
    PERMISSIONS,
    RESOURCE_SERVER,
    SCOPE_NAMES,
    VIEWERS,
)
from localdev.emulator import FAKE_CREDENTIALS, PROJECT_DIR
from localdev.signing import SigningKey, access_token_claims, jwks

POOL_NAME = "items-local"
CONSOLE_CLIENT = "console"
# Local users and their passwords: an emulator's accounts, printed by `make run`.
LOCAL_USERS: dict[str, tuple[str, str]] = {
    "editor": (EDITORS, "Editor-local-pass-1"),
    "viewer": (VIEWERS, "Viewer-local-pass-1"),
}
# The console's OAuth scopes: sign-in only. People's permissions come from their groups.
CONSOLE_SCOPES = ["openid", "email", "profile"]
CODE_LIFETIME_SECONDS = 300
CDK_JSON = PROJECT_DIR / "infrastructure" / "cdk.json"
# The same password policy as the stack's user pool (infrastructure/identity.py).
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": False,
    "TemporaryPasswordValidityDays": 3,
}


@dataclass(frozen=True)
class MachineClient:
    name: str
    client_id: str
    secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class LocalIdentity:
    """What ``bootstrap_identity`` created in the emulator."""

    region: str
    endpoint: str
    pool_id: str
    console_client_id: str
    machine_clients: dict[str, MachineClient] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        """The ``iss`` of the pool's tokens (moto names its pools' issuers as Cognito does)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        """Where moto's server publishes the pool's keys."""
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    def cognito(self) -> Any:
        return cognito_client(self.region, self.endpoint)


def cognito_client(region: str, endpoint: str) -> Any:
    import boto3

    session = boto3.session.Session(
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return session.client("cognito-idp", endpoint_url=endpoint)


def declared_machine_clients(cdk_json: Path = CDK_JSON) -> dict[str, list[str]]:
    """The machine clients the stack declares (``apiClients`` in cdk.json), with their scopes."""
    context = json.loads(cdk_json.read_text())["context"]
    return {
        client["name"]: list(client.get("scopes", []))
        for client in context.get("apiClients", [])
        if client.get("kind", "machine") == "machine"
    }


def _find(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any] | None:
    return next((item for item in items if item.get(key) == value), None)


def bootstrap_identity(
    region: str,
    endpoint: str,
    *,
    callback_urls: list[str],
    machine_clients: dict[str, list[str]] | None = None,
) -> LocalIdentity:
    """Create the pool, groups, users, scopes and clients in the emulator (or find them)."""
    client = cognito_client(region, endpoint)
    pools = client.list_user_pools(MaxResults=60)["UserPools"]
    found = _find(pools, "Name", POOL_NAME)
    if found:
        pool_id = found["Id"]
    else:
        pool_id = client.create_user_pool(
            PoolName=POOL_NAME,
            Policies={"PasswordPolicy": PASSWORD_POLICY},
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            MfaConfiguration="OPTIONAL",
            UsernameConfiguration={"CaseSensitive": False},
        )["UserPool"]["Id"]
        for group in GROUP_PERMISSIONS:
            client.create_group(UserPoolId=pool_id, GroupName=group)
        for username, (group, password) in LOCAL_USERS.items():
            client.admin_create_user(
                UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS"
            )
            client.admin_set_user_password(
                UserPoolId=pool_id, Username=username, Password=password, Permanent=True
            )
            client.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
        client.create_resource_server(
            UserPoolId=pool_id,
            Identifier=RESOURCE_SERVER,
            Name="Items API",
            Scopes=[{"ScopeName": SCOPE_NAMES[p], "ScopeDescription": p} for p in PERMISSIONS],
        )
    existing = client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    console = _find(existing, "ClientName", CONSOLE_CLIENT)
    console_id = (
        console["ClientId"]
        if console
        else client.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=CONSOLE_CLIENT,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=CONSOLE_SCOPES,
            AllowedOAuthFlowsUserPoolClient=True,
            SupportedIdentityProviders=["COGNITO"],
            CallbackURLs=callback_urls,
            LogoutURLs=callback_urls,
            EnableTokenRevocation=True,
        )["UserPoolClient"]["ClientId"]
    )
    machines: dict[str, MachineClient] = {}
    declared = declared_machine_clients() if machine_clients is None else machine_clients
    for name, scopes in declared.items():
        entry = _find(existing, "ClientName", name)
        if entry:
            described = client.describe_user_pool_client(
                UserPoolId=pool_id, ClientId=entry["ClientId"]
            )["UserPoolClient"]
        else:
            described = client.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=name,
                GenerateSecret=True,
                AllowedOAuthFlows=["client_credentials"],
                AllowedOAuthScopes=scopes,
                AllowedOAuthFlowsUserPoolClient=True,
            )["UserPoolClient"]
        machines[name] = MachineClient(
            name, described["ClientId"], described["ClientSecret"], tuple(scopes)
        )
    return LocalIdentity(region, endpoint, pool_id, console_id, machines)


def trusted_issuers(identity: LocalIdentity, stand_in_url: str) -> str:
    """``AUTH_TRUSTED_ISSUERS`` for the local API: the pool (people) and the stand-in
    (machine clients), each trusted for its own clients only."""
    issuers: list[dict[str, Any]] = [
        {
            "issuer": identity.issuer,
            "jwks_url": identity.jwks_url,
            "client_ids": [identity.console_client_id],
        }
    ]
    if identity.machine_clients:
        issuers.append(
            {
                "issuer": stand_in_url,
                "jwks_url": f"{stand_in_url}/.well-known/jwks.json",
                "client_ids": [c.client_id for c in identity.machine_clients.values()],
            }
        )
    return json.dumps(issuers)


def sign_in(identity: LocalIdentity, username: str, password: str) -> dict[str, Any]:
    """A person's tokens from the pool (the console client's password sign-in)."""
    result: dict[str, Any] = identity.cognito().initiate_auth(
        ClientId=identity.console_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    return result


def local_user_token(identity: LocalIdentity, username: str) -> str:
    """An access token of one of the local users (what `make token` prints)."""
    _, password = LOCAL_USERS[username]
    token: str = sign_in(identity, username, password)["AccessToken"]
    return token


def editor_authorizer_context(name: str = "editor") -> dict[str, str]:
    """What API Gateway hands the API function in ``requestContext.authorizer`` once the token
    authorizer allowed an editor's token: for events built by hand (tests, the benchmarks), as
    Lambda receives them after the authorizer, which runs as a function of its own."""
    from chalicelib.auth.permissions import Principal

    principal = Principal(
        name=name,
        subject=f"{name}-sub",
        kind="person",
        permissions=frozenset({"items/read", "items/write"}),
        expires_at=int(time.time()) + 3600,
    )
    return {**principal.to_context(), "principalId": name}


# -- the stand-in ------------------------------------------------------------------------------


@dataclass
class _Grant:
    tokens: dict[str, Any]
    client_id: str
    redirect_uri: str
    challenge: str
    expires: float


class OAuthError(Exception):
    """An OAuth 2.0 error answer (RFC 6749 section 5.2)."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def _pkce_matches(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(expected, challenge)


class IdentityStandIn:
    """The managed login, token endpoint and JWKS of the local user pool's "domain"."""

    def __init__(self, identity: LocalIdentity, url: str, key: SigningKey | None = None) -> None:
        self.identity = identity
        self.url = url.rstrip("/")
        self.key = key or SigningKey()
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    # -- what the handler calls ----------------------------------------------------------------

    def public_client(self, client_id: str) -> dict[str, Any]:
        if client_id != self.identity.console_client_id:
            raise OAuthError("invalid_client", 401)
        described: dict[str, Any] = self.identity.cognito().describe_user_pool_client(
            UserPoolId=self.identity.pool_id, ClientId=client_id
        )["UserPoolClient"]
        return described

    def check_authorize(self, params: dict[str, str]) -> None:
        client = self.public_client(params.get("client_id", ""))
        if params.get("redirect_uri") not in client.get("CallbackURLs", []):
            raise OAuthError("redirect_mismatch")
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OAuthError("invalid_request")

    def sign_in_for_code(self, params: dict[str, str], username: str, password: str) -> str:
        """Check the password with the pool; the authorization code of the signed-in user."""
        self.check_authorize(params)
        tokens = sign_in(self.identity, username, password)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(
                tokens=tokens,
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                challenge=params["code_challenge"],
                expires=time.time() + CODE_LIFETIME_SECONDS,
            )
        return code

    def token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            self.public_client(form.get("client_id", ""))
            try:
                result = self.identity.cognito().initiate_auth(
                    ClientId=form["client_id"],
                    AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": form.get("refresh_token", "")},
                )["AuthenticationResult"]
            except Exception as exc:  # moto's NotAuthorizedException and friends
                raise OAuthError("invalid_grant") from exc
            return _token_answer(result)
        if grant_type == "client_credentials":
            return self._client_credentials(form, authorization)
        raise OAuthError("unsupported_grant_type")

    def _exchange_code(self, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant.expires < time.time():
            raise OAuthError("invalid_grant")
        if form.get("client_id") != grant.client_id or form.get("redirect_uri") != (
            grant.redirect_uri
        ):
            raise OAuthError("invalid_grant")
        if not _pkce_matches(form.get("code_verifier", ""), grant.challenge):
            raise OAuthError("invalid_grant")
        return _token_answer(grant.tokens)

    def _client_credentials(
        self, form: dict[str, str], authorization: str | None
    ) -> dict[str, Any]:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        machine = next(
            (c for c in self.identity.machine_clients.values() if c.client_id == client_id), None
        )
        if machine is None or not secrets.compare_digest(machine.secret, secret):
            raise OAuthError("invalid_client", 401)
        requested = form.get("scope", "").split() or list(machine.scopes)
        if not set(requested) <= set(machine.scopes):
            raise OAuthError("invalid_scope")
        claims = access_token_claims(issuer=self.url, client_id=client_id, scopes=requested)
        return {
            "access_token": self.key.sign(claims),
            "expires_in": claims["exp"] - claims["iat"],
            "token_type": "Bearer",
        }

    def revoke(self, form: dict[str, str]) -> None:
        self.public_client(form.get("client_id", ""))
        try:
            self.identity.cognito().revoke_token(
                Token=form.get("token", ""), ClientId=form["client_id"]
            )
        except Exception as exc:
            raise OAuthError("unsupported_token_type") from exc

    def logout_target(self, params: dict[str, str]) -> str:
        client = self.public_client(params.get("client_id", ""))
        target = params.get("logout_uri", "")
        if target not in client.get("LogoutURLs", []):
            raise OAuthError("invalid_request")
        return target

    def jwks(self) -> bytes:
        return jwks(self.key)

    # -- serving -------------------------------------------------------------------------------

    def serve(self, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
        """Serve on ``host:port`` in a daemon thread; ``shutdown()`` stops it."""
        stand_in = self

        class Handler(_StandInHandler):
            owner = stand_in

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="identity", daemon=True).start()
        return server


def _token_answer(result: dict[str, Any]) -> dict[str, Any]:
    answer = {
        "id_token": result["IdToken"],
        "access_token": result["AccessToken"],
        "expires_in": result["ExpiresIn"],
        "token_type": "Bearer",
    }
    if "RefreshToken" in result:
        answer["refresh_token"] = result["RefreshToken"]
    return answer


def _page_csp(params: dict[str, str]) -> str:
    """The sign-in page's policy. Browsers apply form-action to the redirect that follows the
    form's POST too, so the client's registered redirect origin is allowed as well."""
    parts = urlsplit(params.get("redirect_uri", ""))
    target = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{target}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


_HIDDEN = ("client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope")


def sign_in_page(params: dict[str, str], error: str | None = None) -> bytes:
    """The sign-in form (labelled inputs; the hidden fields carry the authorize request)."""
    hidden = (
        "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params.get(name, ""))}">'
            for name in _HIDDEN
            if name in params
        )
        + '<input type="hidden" name="response_type" value="code">'
    )
    message = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
    username = html.escape(params.get("username", ""))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in — Items (local)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}}
label,input,button{{display:block;width:100%;margin:.3rem 0}}.error{{color:#a00}}</style></head>
<body><main><h1>Sign in</h1><p>Local user pool (the emulator's stand-in for the managed login).</p>
{message}<form method="post" action="/login">{hidden}
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required value="{username}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>"""
    return page.encode()


class _StandInHandler(BaseHTTPRequestHandler):
    owner: IdentityStandIn

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet, like the console's file server."""

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        # The token and revoke endpoints answer browsers (the console) across origins.
        self._send(
            status,
            json.dumps(value).encode(),
            "application/json",
            Access_Control_Allow_Origin="*",
        )

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        parsed = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def _query(self) -> dict[str, str]:
        parsed = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def _redirect(self, target: str) -> None:
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        params = self._query()
        try:
            if path == "/.well-known/jwks.json":
                self._send(
                    200, self.owner.jwks(), "application/json", Access_Control_Allow_Origin="*"
                )
            elif path in ("/oauth2/authorize", "/login"):
                self.owner.check_authorize(params)
                self._send(
                    200,
                    sign_in_page(params),
                    "text/html; charset=utf-8",
                    Content_Security_Policy=_page_csp(params),
                )
            elif path == "/logout":
                self._redirect(self.owner.logout_target(params))
            else:
                self._json(404, {"error": "not_found"})
        except OAuthError as error:
            self._json(error.status, {"error": error.error})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        try:
            if path == "/login":
                self._login(form)
            elif path == "/oauth2/token":
                self._json(200, self.owner.token(form, self.headers.get("Authorization")))
            elif path == "/oauth2/revoke":
                self.owner.revoke(form)
                self._json(200, {})
            else:
                self._json(404, {"error": "not_found"})
        except OAuthError as error:
            self._json(error.status, {"error": error.error})

    def _login(self, form: dict[str, str]) -> None:
        try:
            code = self.owner.sign_in_for_code(
                form, form.get("username", ""), form.get("password", "")
            )
        except OAuthError:
            raise
        except Exception:  # moto's NotAuthorizedException / UserNotFoundException
            page = sign_in_page(form, "Incorrect username or password.")
            self._send(
                200, page, "text/html; charset=utf-8", Content_Security_Policy=_page_csp(form)
            )
            return
        query = {"code": code, **({"state": form["state"]} if "state" in form else {})}
        separator = "&" if "?" in form["redirect_uri"] else "?"
        self._redirect(f"{form['redirect_uri']}{separator}{urlencode(query)}")
