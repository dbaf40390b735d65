"""Several server processes share one database and one token: thousands of
tokens, no duplicate serial, and every token a client received is recorded."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from asn1crypto import tsp
from sqlalchemy import create_engine, text

from signer.formats.tsp import make_request
from tests.servers import server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
PROCESSES = 3
TOKENS = 3000


def _post(url: str, body: bytes) -> bytes:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/timestamp-query"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read()


def test_thousands_of_tokens_from_several_processes(tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-multi")
    env["KYSO_TSA_SERIAL_BLOCK"] = "64"  # many block reservations, to exercise them
    servers = []
    try:
        # The first start creates the dev CA and the TSA key; the others find them.
        for i in range(PROCESSES):
            node_env = dict(env, KYSO_NODE_ID=f"node-{i}")
            servers.append(start_server(tmp_path, node_env, "--demo"))
        urls = [s.tsa_url for s in servers]

        def one(i: int) -> tuple[int, int]:
            digest = i.to_bytes(32, "big")
            req, nonce = make_request(digest, "sha256", cert_req=False)
            resp = tsp.TimeStampResp.load(_post(urls[i % len(urls)], req))
            assert resp["status"]["status"].native == "granted", resp["status"].native
            info = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
            assert info["nonce"].native == nonce
            return info["serial_number"].native, i

        with ThreadPoolExecutor(24) as pool:
            issued = list(pool.map(one, range(TOKENS)))
    finally:
        for s in servers:
            stop_server(s)
    serials = [s for s, _ in issued]
    assert len(set(serials)) == TOKENS, "duplicate TSA serial numbers"
    assert all(s.bit_length() > 64 for s in serials)
    engine = create_engine(env["KYSO_STORE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT serial, node_id, imprint FROM tsa_tokens")).all()
    engine.dispose()
    recorded = {int(serial, 16): (node, imprint) for serial, node, imprint in rows}
    assert len(rows) == TOKENS  # nothing recorded that was not sent, in this clean run
    missing = [s for s in serials if s not in recorded]
    assert not missing, f"{len(missing)} tokens were sent without a durable record"
    for serial, i in issued:
        assert recorded[serial][1] == i.to_bytes(32, "big")
    assert {node for node, _ in recorded.values()} == {f"node-{i}" for i in range(PROCESSES)}
