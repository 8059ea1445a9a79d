"""Bearer token verification: RS256 JWTs of trusted issuers, for the authorizer function only.

Imports PyJWT and cryptography (both in the Powertools layer the stack attaches); the API
function never imports this module, so its cold path loads no JWT library and fetches no keys.

A token is accepted when all of these hold: it is a JWT whose header names RS256 (``none``,
HS256 and every other algorithm are refused before any key is looked up) and a key id; its
``iss`` is one of the configured issuers (an unknown issuer causes no key fetch); the key with
that id in the issuer's JWKS verifies its signature; ``exp``, ``iat`` and (when present)
``nbf`` hold within a small leeway; ``token_use`` is ``id`` or ``access``; and its client (an ID
token's ``aud``, an access token's ``client_id``) is one the issuer is trusted for.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

ALGORITHM = "RS256"
# Clocks of the issuer and of Lambda differ by well under a second; 30 s also covers a token
# used the moment it was issued by a slightly fast clock.
LEEWAY_SECONDS = 30
# Cognito rotates a pool's keys rarely and publishes the next key before using it.
JWKS_LIFESPAN_SECONDS = 3600
# A token naming an unknown key id refetches the JWKS at most this often (a flood of made-up key
# ids cannot turn into a flood of fetches; Cognito also has a quota on JWKS requests).
JWKS_COOLDOWN_SECONDS = 60
JWKS_TIMEOUT_SECONDS = 2.0
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class TokenRefusedError(Exception):
    """The token cannot be trusted (a 401). The reason is for the log, never for the client."""


class KeysUnavailableError(Exception):
    """The issuer's signing keys could not be fetched: the token can be neither trusted nor
    refused (the caller should retry later)."""


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens are accepted, where its keys are published, and for which clients.

    ``jwks_url`` must be HTTPS, except on the loopback interface (the local emulator).
    """

    issuer: str
    jwks_url: str
    client_ids: frozenset[str]

    def __post_init__(self) -> None:
        parts = urlsplit(self.jwks_url)
        secure = parts.scheme == "https" or (
            parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
        )
        if not secure or not parts.hostname:
            raise ValueError(f"JWKS URL of {self.issuer} must be https: {self.jwks_url}")
        if not self.issuer or not self.client_ids:
            raise ValueError("a trusted issuer needs its issuer URL and at least one client id")

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any]) -> TrustedIssuer:
        """From ``{"issuer": ..., "jwks_url": ..., "client_ids": [...]}``; the JWKS URL defaults
        to the issuer's ``/.well-known/jwks.json`` (where Cognito publishes it)."""
        issuer = value.get("issuer")
        clients = value.get("client_ids")
        if not isinstance(issuer, str) or not isinstance(clients, list):
            raise ValueError("a trusted issuer needs issuer (a string) and client_ids (a list)")
        jwks_url = value.get("jwks_url") or issuer.rstrip("/") + "/.well-known/jwks.json"
        if not isinstance(jwks_url, str) or not all(isinstance(c, str) and c for c in clients):
            raise ValueError(f"trusted issuer {issuer}: jwks_url and client ids must be strings")
        return cls(issuer=issuer, jwks_url=jwks_url, client_ids=frozenset(clients))


class TokenVerifier:
    """Verifies tokens against a fixed set of trusted issuers, caching each issuer's keys."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        *,
        leeway_seconds: float = LEEWAY_SECONDS,
        timeout_seconds: float = JWKS_TIMEOUT_SECONDS,
    ) -> None:
        self._issuers = {trusted.issuer: trusted for trusted in issuers}
        if not self._issuers:
            raise ValueError("no trusted issuer is configured: every token would be refused")
        self._leeway = leeway_seconds
        self._timeout = timeout_seconds
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` once every check has passed; ``TokenRefusedError`` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise TokenRefusedError(f"not a JWT: {exc}") from exc
        if header.get("alg") != ALGORITHM:
            raise TokenRefusedError(f"algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefusedError("the token names no key id")
        claimed_issuer = unverified.get("iss")
        trusted = self._issuers.get(claimed_issuer) if isinstance(claimed_issuer, str) else None
        if trusted is None:
            raise TokenRefusedError(f"issuer {claimed_issuer!r} is not trusted")
        key = self._signing_key(trusted, kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=trusted.issuer,
                leeway=self._leeway,
                options={
                    "require": ["iss", "sub", "exp", "iat", "token_use"],
                    # Checked below: Cognito's access tokens carry the client in client_id.
                    "verify_aud": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenRefusedError(str(exc)) from exc
        self._check_client(claims, trusted)
        return claims

    @staticmethod
    def _check_client(claims: Mapping[str, Any], trusted: TrustedIssuer) -> None:
        # An ID token names its client in aud, an access token in client_id.
        token_use = str(claims.get("token_use"))
        client_claim = {"id": "aud", "access": "client_id"}.get(token_use)
        if client_claim is None:
            raise TokenRefusedError(f"token_use {token_use!r} is not id or access")
        client = claims.get(client_claim)
        if not isinstance(client, str) or client not in trusted.client_ids:
            raise TokenRefusedError(f"client {client!r} is not trusted")

    def _signing_key(self, trusted: TrustedIssuer, kid: str) -> jwt.PyJWK:
        with self._lock:
            client = self._clients.get(trusted.issuer)
            if client is None:
                client = jwt.PyJWKClient(
                    trusted.jwks_url,
                    cache_jwk_set=True,
                    lifespan=JWKS_LIFESPAN_SECONDS,
                    cooldown_duration=JWKS_COOLDOWN_SECONDS,
                    timeout=self._timeout,
                )
                self._clients[trusted.issuer] = client
        try:
            return client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailableError(f"signing keys of {trusted.issuer}: {exc}") from exc
        except jwt.PyJWTError as exc:
            # No key with that id (after at most one refetch), or a key set with no usable key.
            raise TokenRefusedError(f"no signing key {kid!r} at {trusted.issuer}: {exc}") from exc


@functools.cache
def get_verifier() -> TokenVerifier:
    """The verifier of this process, configured from the environment (read once)."""
    from chalicelib.settings import trusted_issuers

    return TokenVerifier(TrustedIssuer.from_mapping(entry) for entry in trusted_issuers())
