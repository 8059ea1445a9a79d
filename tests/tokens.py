"""Tokens for the tests: a trusted issuer of this test session, and every kind of bad token.

``ISSUER`` stands for the deployment's user pool: its key is published on a loopback JWKS
endpoint and the app under test trusts it (``AUTH_TRUSTED_ISSUERS``) for two clients, the
console's (people) and a machine client's. ``TokenSet`` mints good tokens of each kind and the
refusals the contract lists: expired, not yet valid, tampered, signed by another key, from
another issuer, for another client, ``alg: none``.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from localdev.signing import JwksServer, SigningKey, access_token_claims, serve_jwks

CONSOLE_CLIENT = "console-client-test"
MACHINE_CLIENT = "machine-client-test"
OTHER_CLIENT = "another-client-test"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Issuer:
    """A token issuer with a published JWKS."""

    key: SigningKey
    issuer: str
    jwks_url: str
    server: JwksServer

    def trusted_issuers(self) -> str:
        return json.dumps(
            [
                {
                    "issuer": self.issuer,
                    "jwks_url": self.jwks_url,
                    "client_ids": [CONSOLE_CLIENT, MACHINE_CLIENT],
                }
            ]
        )

    def tokens(self) -> TokenSet:
        return TokenSet(self)


@functools.cache
def _published_issuer() -> Issuer:
    key = SigningKey()
    server = serve_jwks(key)
    port = server.server_address[1]
    return Issuer(
        key=key,
        issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool",
        jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks.json",
        server=server,
    )


ISSUER = _published_issuer()


class TokenSet:
    """Mints tokens as ``ISSUER`` would, and the bad ones."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    def person_claims(
        self, username: str, groups: list[str], *, token_use: str = "access", **overrides: Any
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": f"sub-{username}",
            "iss": self.issuer.issuer,
            "token_use": token_use,
            "auth_time": now,
            "iat": now,
            "exp": now + 3600,
            "jti": secrets.token_hex(8),
        }
        if groups:
            claims["cognito:groups"] = groups
        if token_use == "id":
            claims.update({"aud": CONSOLE_CLIENT, "cognito:username": username})
        else:
            claims.update({"client_id": CONSOLE_CLIENT, "username": username, "scope": "openid"})
        claims.update(overrides)
        return claims

    def person(self, username: str, groups: list[str], **overrides: Any) -> str:
        return self.issuer.key.sign(self.person_claims(username, groups, **overrides))

    def client(self, scopes: list[str], client_id: str = MACHINE_CLIENT, **overrides: Any) -> str:
        claims = access_token_claims(issuer=self.issuer.issuer, client_id=client_id, scopes=scopes)
        claims.update(overrides)
        return self.issuer.key.sign(claims)

    @property
    def editor(self) -> str:
        return self.person("editor", ["editors"])

    @property
    def viewer(self) -> str:
        return self.person("viewer", ["viewers"])

    # -- refusals ------------------------------------------------------------------------------

    def expired(self) -> str:
        now = int(time.time())
        return self.person("editor", ["editors"], iat=now - 7200, exp=now - 3600)

    def not_yet_valid(self) -> str:
        now = int(time.time())
        return self.person("editor", ["editors"], nbf=now + 600, iat=now, exp=now + 3600)

    def tampered(self) -> str:
        """A valid token whose payload was changed (viewer -> editors) after signing."""
        header, payload, signature = self.viewer.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["cognito:groups"] = ["editors"]
        return ".".join([header, _b64(json.dumps(claims).encode()), signature])

    def other_key(self) -> str:
        """Signed by a key the issuer never published, under the published key's id."""
        return SigningKey(kid=self.issuer.key.kid).sign(self.person_claims("editor", ["editors"]))

    def other_issuer(self) -> str:
        """Signed by the trusted key, but issued by another pool."""
        other = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool"
        return self.person("editor", ["editors"], iss=other)

    def other_client(self) -> str:
        return self.person("editor", ["editors"], client_id=OTHER_CLIENT)

    def other_client_id_token(self) -> str:
        return self.person("editor", ["editors"], token_use="id", aud=OTHER_CLIENT)

    def unknown_key_id(self) -> str:
        return SigningKey().sign(self.person_claims("editor", ["editors"]))

    def alg_none(self) -> str:
        header = _b64(
            json.dumps({"alg": "none", "typ": "JWT", "kid": self.issuer.key.kid}).encode()
        )
        payload = _b64(json.dumps(self.person_claims("editor", ["editors"])).encode())
        return f"{header}.{payload}."

    def hs256(self) -> str:
        """HS256 "signed" with the public key's modulus as the secret (key confusion)."""
        import jwt

        secret = self.issuer.key.jwk()["n"].encode()
        claims = self.person_claims("editor", ["editors"])
        return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": self.issuer.key.kid})
