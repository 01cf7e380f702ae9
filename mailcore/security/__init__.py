"""Inbound and outbound mail security: S/MIME and OpenPGP signatures and encryption.

- `unwrap`: `Unwrapper(keyring).extract(raw)` verifies and decrypts, then extracts the inner
  mail (`Extraction.security` says what was found); the engine's pipeline calls it;
- `smime_in`, `pgp_in`: one layer each (openssl cms verifies, cryptography decrypts S/MIME;
  gpg does OpenPGP), through `tools.run` (argument lists, bounded input/output, timeouts)
  and `gnupg.GnuPG` (a private temporary GnuPG home);
- `keyring`: the keys used, from ``[security]`` files and the key store;
- `seal`: outbound sign-then-encrypt, S/MIME or OpenPGP/MIME, per partner.

Depends on `inbound` (extraction), `outbound` (composing, signing) and `store` (keys).
"""
