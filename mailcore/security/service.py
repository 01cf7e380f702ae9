"""The security layer as the settings configure it: the key store in the history database,
the keyring that verifies and decrypts inbound mail, and the sealing of outbound mail.

    [security]
    verify = true                                  # unwrap inbound mail (default true)
    smime_sign = "3F2A..."                         # our S/MIME certificate (fingerprint)
    openpgp_sign = "9C1B..."                       # our OpenPGP key (fingerprint)
    [security.encrypt_to]                          # partner address -> their key
    "partner@acme.example" = "5E77..."

plus the file names of `mailcore.security.keyring` for keys kept outside the database.
The console's secret key (MAILCORE_SECRET_KEY or [console] secret_key) encrypts the stored
private keys.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.ident import DEFAULT_SCHEME, IdentScheme
from mailcore.inbound.model import Extraction
from mailcore.outbound.compose import MESSAGE_POLICY
from mailcore.outbound.smime import Signer
from mailcore.security.keyinfo import keyring
from mailcore.security.keyring import Keyring
from mailcore.security.seal import OwnKeys, Recipient, seal
from mailcore.security.unwrap import Unwrapper
from mailcore.store.db import connect
from mailcore.store.keys import KeyScheme, KeyStore

SECRET_ENV = "MAILCORE_SECRET_KEY"


def secret_key(settings: Settings) -> str | None:
    """The console's secret key: $MAILCORE_SECRET_KEY, else [console] secret_key."""
    return os.environ.get(SECRET_ENV) or settings.section("console").get("secret_key") or None


def key_store(settings: Settings, db: Any = None) -> KeyStore:
    """The key store of the settings' database (or of `db`, an engine already open)."""
    return KeyStore(db if db is not None else connect(settings.database_url), secret_key(settings))


def unwrapper(settings: Settings, store: KeyStore | None = None) -> StoreUnwrapper | None:
    """The verifier of the configured keys (files and the key store, re-read when an admin
    changes them); None when ``[security] verify = false``."""
    section = settings.section("security")
    if section.get("verify", True) in (False, "false", "0", "no"):
        return None
    return StoreUnwrapper(Keyring.from_section(section), store or key_store(settings))


class StoreUnwrapper:
    """An `Unwrapper` over the key store that follows its changes: the store's version is
    checked at most every `RECHECK_SECONDS`, and the keyring rebuilt when it moved."""

    RECHECK_SECONDS = 10.0

    def __init__(self, files: Keyring, store: KeyStore) -> None:
        self.files, self.store = files, store
        self._lock = threading.Lock()
        self._version: object = None
        self._checked = 0.0
        self._current = self._fresh()

    def extract(self, raw: bytes, scheme: IdentScheme = DEFAULT_SCHEME) -> Extraction:
        """`Unwrapper.extract` with the keys as they are now."""
        return self.current().extract(raw, scheme)

    def current(self) -> Unwrapper:
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.RECHECK_SECONDS:
                self._checked = now
                if self.store.version() != self._version:
                    # the old one may be in use on another thread: its GnuPG home goes
                    # when it is garbage (GnuPG's finalizer), not now
                    self._current = self._fresh()
            return self._current

    def _fresh(self) -> Unwrapper:
        self._version = self.store.version()
        return Unwrapper(self.files | keyring(self.store))

    def close(self) -> None:
        self._current.close()


def seal_message(
    settings: Settings, message: EmailMessage, store: KeyStore | None = None
) -> bytes | EmailMessage:
    """The message signed with our configured key and encrypted to its recipients' keys
    (``[security.encrypt_to]``); as it is when nothing is configured for it."""
    section = settings.section("security")
    targets = {str(k).lower(): str(v) for k, v in dict(section.get("encrypt_to") or {}).items()}
    if not (targets or section.get("smime_sign") or section.get("openpgp_sign")):
        return message
    store = store or key_store(settings)
    recipient = _recipient(store, targets, _addresses(message))
    own = _own_keys(store, section, None if recipient is None else recipient.scheme)
    if recipient is None and own.smime is None:
        return message
    return seal(message, recipient, own)


def _addresses(message: EmailMessage) -> list[str]:
    values = [str(v) for name in ("To", "Cc") for v in message.get_all(name, [])]
    return [addr.lower() for _, addr in getaddresses(values) if addr]


def _recipient(store: KeyStore, targets: dict[str, str], to: Sequence[str]) -> Recipient | None:
    """The one key all recipients are encrypted to; a mix of configured and not is refused
    (sending in clear to some of them would leak what the others get encrypted)."""
    configured = [a for a in to if a in targets]
    if not configured:
        return None
    if len(configured) != len(to) or len({targets[a] for a in configured}) != 1:
        raise ConfigError(
            f"encrypting to {', '.join(configured)} but not to every recipient of the same"
            " mail: send one mail per partner ([security.encrypt_to])"
        )
    key = store.get(targets[configured[0]])
    if key.expired():
        raise ConfigError(f"the key of {configured[0]} ({key.fingerprint}) has expired")
    return Recipient(key.scheme, key.public.encode(), key.fingerprint)


def _own_keys(store: KeyStore, section: dict[str, Any], scheme: KeyScheme | None) -> OwnKeys:
    smime = pgp = None
    pgp_fpr = None
    if section.get("smime_sign") and scheme in (None, KeyScheme.SMIME):
        key = store.get(str(section["smime_sign"]))
        smime = Signer.from_pem(key.public.encode(), store.secret(key.fingerprint) or b"")
    if section.get("openpgp_sign") and (
        scheme is KeyScheme.OPENPGP or (scheme is None and smime is None)
    ):
        key = store.get(str(section["openpgp_sign"]))
        pgp, pgp_fpr = store.secret(key.fingerprint), key.fingerprint
    return OwnKeys(smime, pgp, pgp_fpr)


def as_bytes(message: bytes | EmailMessage) -> bytes:
    """What is sent, as bytes."""
    return message if isinstance(message, bytes) else message.as_bytes(policy=MESSAGE_POLICY)
