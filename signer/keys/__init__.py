"""Keys: the narrow signing interface (``signer.keys.types``, shared with clients: it
imports nothing from ``pkcs11``) and its PKCS#11 backend (``signer.keys.store``, the only
module of kyso that imports ``pkcs11``). Import each from its module: this package imports
neither, so that a client importing the types does not load the backend."""
