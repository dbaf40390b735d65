"""Signature verification: CMS/CAdES, PAdES, XML-DSig/edXML and RFC 3161 tokens.

Each format module checks integrity (the bytes signed are the bytes received)
with its own parser, then hands the signer certificate to ``trust`` (path to a
configured anchor, revocation) and ``agency`` (which registry agency owns the
key, its name on the signing date). ``report`` holds the result as plain
dataclasses in ETSI EN 319 102-1 terms; ``service`` converts them to protobuf.
"""
