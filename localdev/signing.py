"""A local token issuer's signing key: RS256 tokens and the JWKS that publishes the key.

The local identity stand-in signs machine clients' tokens with it (moto's Cognito cannot issue
client-credentials tokens), and the tests sign every kind of token with it, good and bad. The
key is made fresh per process and never written anywhere.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKey:
    """An RSA key with a key id, as an issuer publishes it in its JWKS."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or secrets.token_hex(8)
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, str]:
        numbers = self._private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """A compact RS256 JWS of ``claims`` (``header`` adds or overrides header fields)."""
        return jwt.encode(
            claims, self._private, algorithm="RS256", headers={"kid": self.kid, **header}
        )


def jwks(*keys: SigningKey) -> bytes:
    """The JSON Web Key Set document of ``keys``."""
    return json.dumps({"keys": [key.jwk() for key in keys]}).encode()


def access_token_claims(
    *,
    issuer: str,
    client_id: str,
    scopes: list[str],
    lifetime_seconds: int = 3600,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of a client-credentials access token, shaped like Cognito's: the subject is
    the client, no username, the granted scopes space-separated."""
    issued = int(time.time()) if now is None else now
    return {
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": issued,
        "iss": issuer,
        "exp": issued + lifetime_seconds,
        "iat": issued,
        "version": 2,
        "jti": secrets.token_hex(16),
    }


def serve_jwks(*keys: SigningKey, host: str = "127.0.0.1", port: int = 0) -> JwksServer:
    """Publish ``keys`` at ``/.well-known/jwks.json`` on loopback (a daemon thread), as an
    issuer does; ``server.server_address[1]`` is the port, ``shutdown()`` stops it."""
    document = jwks(*keys)
    fetches = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/.well-known/jwks.json"
            fetches[0] += found
            body = document if found else b'{"error":"not_found"}'
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = JwksServer((host, port), Handler)
    server.daemon_threads = True
    server.fetch_count = lambda: fetches[0]
    threading.Thread(target=server.serve_forever, name="jwks", daemon=True).start()
    return server


class JwksServer(ThreadingHTTPServer):
    """A JWKS endpoint that counts how often its key set was fetched."""

    fetch_count: Callable[[], int]
