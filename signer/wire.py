"""The wire mapping: protobuf enums and messages to and from kyso's own types, for the
gRPC servicers (the only other server modules that touch protobuf)."""

from __future__ import annotations

import functools

from kyso.common.v1 import common_pb2
from kyso.signer.v1 import signer_pb2
from registry.db.store import cert_record
from signer.core import CadesLevel, OutputFormat
from signer.digest import HashAlg
from signer.errors import InvalidRequest
from signer.keys.types import KeyAlgorithm, Scheme

HASH_FROM_PB = {
    common_pb2.HASH_ALGORITHM_SHA256: HashAlg.SHA256,
    common_pb2.HASH_ALGORITHM_SHA384: HashAlg.SHA384,
    common_pb2.HASH_ALGORITHM_SHA512: HashAlg.SHA512,
}
SCHEME_TO_PB = {
    Scheme.PKCS1V15: common_pb2.SIGNATURE_SCHEME_RSA_PKCS1V15,
    Scheme.PSS: common_pb2.SIGNATURE_SCHEME_RSA_PSS,
    Scheme.ECDSA: common_pb2.SIGNATURE_SCHEME_ECDSA,
    Scheme.EDDSA: common_pb2.SIGNATURE_SCHEME_EDDSA,
}
SCHEME_FROM_PB: dict[int, Scheme] = {int(v): k for k, v in SCHEME_TO_PB.items()}
KEYALG_TO_PB = {
    KeyAlgorithm.RSA2048: common_pb2.KEY_ALGORITHM_RSA_2048,
    KeyAlgorithm.RSA3072: common_pb2.KEY_ALGORITHM_RSA_3072,
    KeyAlgorithm.RSA4096: common_pb2.KEY_ALGORITHM_RSA_4096,
    KeyAlgorithm.EC_P256: common_pb2.KEY_ALGORITHM_EC_P256,
    KeyAlgorithm.EC_P384: common_pb2.KEY_ALGORITHM_EC_P384,
    KeyAlgorithm.ED25519: common_pb2.KEY_ALGORITHM_ED25519,
}
KEYALG_FROM_PB: dict[int, KeyAlgorithm] = {int(v): k for k, v in KEYALG_TO_PB.items()}
LEVEL_FROM_PB = {
    signer_pb2.CADES_LEVEL_UNSPECIFIED: CadesLevel.B_B,
    signer_pb2.CADES_LEVEL_B_B: CadesLevel.B_B,
    signer_pb2.CADES_LEVEL_B_T: CadesLevel.B_T,
}
LEVEL_TO_PB = {
    None: signer_pb2.CADES_LEVEL_UNSPECIFIED,
    CadesLevel.B_B: signer_pb2.CADES_LEVEL_B_B,
    CadesLevel.B_T: signer_pb2.CADES_LEVEL_B_T,
}
OUTPUT_FROM_PB = {
    signer_pb2.OUTPUT_FORMAT_UNSPECIFIED: OutputFormat.RAW,
    signer_pb2.OUTPUT_FORMAT_RAW: OutputFormat.RAW,
    signer_pb2.OUTPUT_FORMAT_CMS: OutputFormat.CMS,
}


@functools.lru_cache(maxsize=1024)
def cert_pb(der: bytes) -> common_pb2.Certificate:
    rec = cert_record(der)
    return common_pb2.Certificate(
        der=der,
        subject=rec.subject,
        issuer=rec.issuer,
        serial_hex=rec.serial_hex,
        not_before_unix=int(rec.not_before.timestamp()),
        not_after_unix=int(rec.not_after.timestamp()),
    )


def scheme_from_pb(value: int) -> Scheme | None:
    if value == common_pb2.SIGNATURE_SCHEME_UNSPECIFIED:
        return None
    scheme = SCHEME_FROM_PB.get(value)
    if scheme is None:
        raise InvalidRequest(f"unknown signature scheme {value}")
    return scheme
