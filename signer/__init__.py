"""kyso signing core: PKCS#11 key store, signature formats, signer service and process runtime."""
