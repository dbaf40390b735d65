"""Signature formats built around an HSM key that only ever signs a digest.

* ``signer.formats.cms``: detached CMS SignedData, CAdES-B-B (ETSI EN 319 122-1),
  over a digest the client computed (``CadesSigner``). Hot path: the fixed DER is
  built once per signer, each call encodes only what changes.
* ``signer.formats.x509``: X.509 v3 certificates and PKCS#10 requests signed by a
  ``SigningKey`` (kyso's development CA, and requests for the registry).

The private helpers in ``signer.formats._der`` hold the DER primitives and the
AlgorithmIdentifier table that both share, so that a CMS SignerInfo and a
certificate signed with the same (scheme, hash) name the algorithm the same way.
"""
