"""kyso registry: agencies and their codes, keys, certificates (and, later, clients and audit)."""
