"""The client library against a real node: it reads the node's limits and splits a batch
larger than ``max_batch`` into calls the node takes, keeping every signature with its
digest (issue 15: the caller had to know the limit and split by hand)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from clients import Limits
from tests.servers import Server

pytestmark = pytest.mark.e2e

DEMO = "000.00.00.H13"


def test_limits_are_the_nodes(server: Server) -> None:
    with server.client() as c:
        assert c.limits() == Limits(max_batch=64, max_message_bytes=4 * 1024 * 1024)


def test_a_batch_over_max_batch_is_split_and_stays_in_order(server: Server) -> None:
    digests = [hashlib.sha256(f"Công văn số {i}/UBND-VP".encode()).digest() for i in range(150)]
    refs = [f"cv-{i}" for i in range(150)]
    with server.client() as c:
        resp = c.sign_digests(DEMO, digests, references=refs, document_type="CV")
        again = c.sign_digests(DEMO, digests[:2], references=refs[:2])
    assert len(resp.signatures) == 150  # three calls: 64 + 64 + 22
    assert [s.reference for s in resp.signatures] == refs
    public = x509.load_der_x509_certificate(resp.certificate.der).public_key()
    for digest, signed in zip(digests, resp.signatures, strict=True):  # each with its own
        public.verify(signed.signature, digest, padding.PKCS1v15(),  # type: ignore[union-attr, call-arg]
                      utils.Prehashed(hashes.SHA256()))
    assert len(again.signatures) == 2
