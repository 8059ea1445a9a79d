"""The local server takes a burst of clients (issue 11, "Also"): ``chalice local`` listened with
``socketserver``'s backlog of 5, so when more clients connected at once than the accept loop
took in, the rest met connection resets (about half of 64 racing clients did). Racing tests and
the console open in several tabs need it to take a burst of 64."""

from __future__ import annotations

import subprocess

import pytest

from localdev.chalice_local import LISTEN_BACKLOG
from tests.integration.harness import API_KEY, LiveApi, burst

pytestmark = pytest.mark.integration
BURST = 64


def test_the_server_listens_with_room_for_a_burst(live: LiveApi) -> None:
    port = live.url.rsplit(":", 1)[1]
    listening = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()

    # For a listening socket, ss's Send-Q column is its backlog.
    assert listening[0] == "LISTEN"
    assert int(listening[2]) == LISTEN_BACKLOG >= BURST


def test_64_racing_clients_all_get_an_answer(live: LiveApi) -> None:
    headers = {"x-api-key": API_KEY, "Content-Type": "application/json"}

    for _ in range(3):  # more than one burst: the first does not warm anything up
        outcomes = burst(f"{live.url}/items", b'{"name": "burst"}', headers, BURST)
        assert outcomes == {"201": BURST}
