"""signer.timestamps.HttpTimestamper against a local HTTP TSA that fails before it answers:
the ``[cades]`` retries, backoff and attempt limit, for PAdES (``query``) as for CAdES."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from signer.config import CadesTimestampSettings
from signer.errors import Unavailable
from signer.formats.tsp import TsaTransportError, post_query
from signer.timestamps import HttpTimestamper

pytestmark = pytest.mark.database_free

REPLY = b"\x30\x03\x02\x01\x00"  # canned bytes: query() does not read the reply


class FlakyTsa:
    """Answers 503 to the first ``failures`` POSTs, then ``REPLY`` as a timestamp-reply."""

    def __init__(self, failures: int, content_type: str = "application/timestamp-reply"):
        self.failures = failures
        self.hits = 0
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.hits += 1
                outer.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                failing = outer.hits <= outer.failures
                body = b"busy" if failing else REPLY
                self.send_response(503 if failing else 200)
                self.send_header("Content-Type", "text/plain" if failing else content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/tsa"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def flaky() -> Iterator[FlakyTsa]:
    tsa = FlakyTsa(failures=1)
    yield tsa
    tsa.close()


def _settings(url: str, attempts: int) -> CadesTimestampSettings:
    return CadesTimestampSettings(source="url", url=url, attempts=attempts, backoff_s=0.01,
                                  timeout_s=5, on_failure="degrade")


def test_pades_query_retries_per_cades_settings(flaky: FlakyTsa) -> None:
    reply = HttpTimestamper(_settings(flaky.url, attempts=2)).query(b"\x30\x00")
    assert reply == REPLY
    assert flaky.hits == 2 and flaky.bodies == [b"\x30\x00", b"\x30\x00"]


def test_pades_query_gives_up_after_the_attempts_whatever_on_failure(flaky: FlakyTsa) -> None:
    # on_failure = "degrade" lowers CAdES to B-B; a PAdES level asked for is not lowered.
    with pytest.raises(Unavailable) as exc:
        HttpTimestamper(_settings(flaky.url, attempts=1)).query(b"\x30\x00")
    assert "attempt 1/1" in exc.value.message and "HTTP 503" in exc.value.message
    assert flaky.hits == 1


def test_the_shared_exchange_says_what_went_wrong(flaky: FlakyTsa) -> None:
    with pytest.raises(TsaTransportError) as exc:
        post_query(flaky.url, b"\x30\x00", 5)
    assert exc.value.status == 503 and exc.value.detail == "busy"
    assert post_query(flaky.url, b"\x30\x00", 5) == REPLY
    with pytest.raises(TsaTransportError) as exc:
        post_query("http://127.0.0.1:9/tsa", b"\x30\x00", 5)
    assert exc.value.status is None and "cannot reach" in str(exc.value)


def test_a_reply_that_is_not_a_timestamp_reply_is_a_transport_failure() -> None:
    tsa = FlakyTsa(failures=0, content_type="text/html")
    try:
        with pytest.raises(TsaTransportError, match="Content-Type 'text/html'"):
            post_query(tsa.url, b"\x30\x00", 5)
    finally:
        tsa.close()


def test_the_client_library_uses_the_same_exchange(flaky: FlakyTsa) -> None:
    from clients.client import KysoClientError, post_timestamp_query

    with pytest.raises(KysoClientError) as exc:
        post_timestamp_query(flaky.url, b"\x30\x00")  # no retries on the client side
    assert exc.value.code == "HTTP 503" and exc.value.message == "busy"
    assert post_timestamp_query(flaky.url, b"\x30\x00") == REPLY
