"""kyso registry: agencies and their codes, keys and certificates, API clients and their
grants, the audit log, statistics; ``registry.db`` holds every table."""
