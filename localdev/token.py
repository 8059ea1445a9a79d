"""`make token USER=editor|viewer` (or `CLIENT=<machine client>`): print only a valid token.

A person's access token comes from the local user pool in moto (the console client's password
sign-in); a machine client's from the local stand-in's token endpoint (client credentials), so
`make run` must be running for that. Everything else goes to standard error.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.request

from localdev.emulator import emulator_port, local_stage_environment, with_emulator_port
from localdev.identity import (
    CONSOLE_CLIENT,
    LOCAL_USERS,
    POOL_NAME,
    LocalIdentity,
    MachineClient,
    cognito_client,
    local_user_token,
)

IDENTITY_PORT = int(os.environ.get("IDENTITY_PORT", "8002"))


def find_identity(region: str, endpoint: str) -> LocalIdentity:
    """The local pool and its clients, as `make run` created them in the emulator."""
    client = cognito_client(region, endpoint)
    pools = client.list_user_pools(MaxResults=60)["UserPools"]
    pool = next((p for p in pools if p["Name"] == POOL_NAME), None)
    if pool is None:
        raise LookupError(f"no user pool {POOL_NAME} at {endpoint}: is `make run` running?")
    clients = client.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)
    console_id = ""
    machines: dict[str, MachineClient] = {}
    for entry in clients["UserPoolClients"]:
        if entry["ClientName"] == CONSOLE_CLIENT:
            console_id = entry["ClientId"]
            continue
        described = client.describe_user_pool_client(
            UserPoolId=pool["Id"], ClientId=entry["ClientId"]
        )["UserPoolClient"]
        machines[entry["ClientName"]] = MachineClient(
            entry["ClientName"],
            entry["ClientId"],
            described.get("ClientSecret", ""),
            tuple(described.get("AllowedOAuthScopes", [])),
        )
    return LocalIdentity(region, endpoint, pool["Id"], console_id, machines)


def client_token(identity: LocalIdentity, name: str, stand_in_url: str) -> str:
    """A machine client's access token from the stand-in's token endpoint."""
    machine = identity.machine_clients[name]
    basic = base64.b64encode(f"{machine.client_id}:{machine.secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        f"{stand_in_url}/oauth2/token",
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        token: str = json.load(response)["access_token"]
    return token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("user", nargs="?", default="", help="editor or viewer")
    parser.add_argument("--client", default="", help="a machine client of apiClients instead")
    args = parser.parse_args(argv)
    stage = local_stage_environment()
    # The same ports as the `make run` it asks (EMULATOR_PORT, IDENTITY_PORT, as there).
    port = os.environ.get("EMULATOR_PORT", "").strip() or str(emulator_port(stage))
    environment = with_emulator_port(stage, int(port))
    endpoint = os.environ.get("EMULATOR_URL", environment["AWS_ENDPOINT_URL_DYNAMODB"]).rstrip("/")
    try:
        identity = find_identity(environment["AWS_DEFAULT_REGION"], endpoint)
        if args.client:
            if args.client not in identity.machine_clients:
                known = ", ".join(sorted(identity.machine_clients))
                print(f"unknown client {args.client!r} (known: {known})", file=sys.stderr)
                return 2
            print(client_token(identity, args.client, f"http://127.0.0.1:{IDENTITY_PORT}"))
            return 0
        if args.user not in LOCAL_USERS:
            print(f"USER must be one of {', '.join(LOCAL_USERS)}", file=sys.stderr)
            return 2
        print(local_user_token(identity, args.user))
    except (LookupError, OSError) as exc:
        print(f"no token: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
