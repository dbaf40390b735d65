"""Every signature and token format kyso reads or writes, shared by the server and the
client (nothing here touches the HSM, the database or gRPC): each signs through a callable
or a ``SigningKey`` that only ever signs a digest.

* ``_der``: DER primitives and the AlgorithmIdentifier table, once, so that a CMS
  SignerInfo and a certificate signed with the same (scheme, hash) name it the same way.
* ``cms`` and ``signer_info``: detached CMS SignedData, CAdES-B-B (ETSI EN 319 122-1),
  over a digest the client computed (``CadesSigner``; the fixed DER is built once per
  signer, each call encodes only what changes).
* ``x509``: X.509 v3 certificates and PKCS#10 requests.
* ``tsp``: RFC 3161 requests and responses.
* ``pdf``: PAdES (ETSI EN 319 142) with the Decree 30/2020 appearances.
* ``xmldsig``: XML-DSig and XAdES for edXML packages.
"""
