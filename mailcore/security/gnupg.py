"""A private GnuPG home for one keyring: made in a temporary directory on first use, the
configured keys imported once, removed (with its gpg-agent) by `close`.

Every call runs ``gpg --batch --no-tty`` with status lines on standard error; sender bytes go
through standard input or files in the home, never arguments.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

from mailcore.security.tools import Ran, run

STATUS = "[GNUPG:] "


class GnuPG:
    """The home of `public` keys (whose signatures are trusted) and `secret` keys (ours)."""

    def __init__(self, public: Sequence[bytes], secret: Sequence[bytes] = ()) -> None:
        self._keys = (tuple(public), tuple(secret))
        self._home: Path | None = None
        self._lock = threading.Lock()
        self.emails: dict[str, tuple[str, ...]] = {}  # fingerprint -> its user ids' addresses

    def home(self) -> Path:
        with self._lock:
            if self._home is None:
                home = Path(tempfile.mkdtemp(prefix="mc-gpg-"))
                weakref.finalize(self, _remove, home)
                self._home = home
                for key in (*self._keys[0], *self._keys[1]):
                    self._gpg(home, ["--import"], key)
                self.emails = _emails(self._gpg(home, ["--with-colons", "--list-keys"]))
            return self._home

    def gpg(self, args: list[str], data: bytes = b"", max_output: int | None = None) -> Ran:
        """Run gpg in this home (created on first use)."""
        return self._gpg(self.home(), args, data, max_output)

    @staticmethod
    def _gpg(home: Path, args: list[str], data: bytes = b"", limit: int | None = None) -> Ran:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GNUPGHOME": str(home)}
        base = ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--status-fd", "2"]
        base += ["--no-auto-key-locate", "--no-auto-key-retrieve", "--trust-model", "always"]
        if limit is not None:
            return run([*base, *args], data, env=env, max_output=limit)
        return run([*base, *args], data, env=env)

    def close(self) -> None:
        with self._lock:
            if self._home is not None:
                _remove(self._home)
                self._home = None


def _remove(home: Path) -> None:
    with contextlib.suppress(Exception):
        run(["gpgconf", "--homedir", str(home), "--kill", "all"], timeout=10)
    shutil.rmtree(home, ignore_errors=True)


def status(ran: Ran) -> list[list[str]]:
    """The [GNUPG:] status lines of a run, split into words."""
    text = ran.stderr.decode("utf-8", "replace")
    return [line[len(STATUS) :].split(" ") for line in text.splitlines() if line.startswith(STATUS)]


def _emails(listing: Ran) -> dict[str, tuple[str, ...]]:
    """fingerprint of each primary key -> the addresses of its user ids."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    expect_fpr = False
    for line in listing.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            expect_fpr, current = True, None
        elif fields[0] == "fpr" and expect_fpr and len(fields) > 9:
            current, expect_fpr = fields[9].upper(), False
            found[current] = []
        elif fields[0] == "uid" and current and len(fields) > 9:
            address = address_of(fields[9])
            if address:
                found[current].append(address)
    return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}


def address_of(user_id: str) -> str | None:
    """The address of a user id "Name <addr>" (or a bare address), lower-cased."""
    text = user_id.replace("\\x3a", ":")
    if "<" in text and text.endswith(">"):
        text = text.rsplit("<", 1)[1][:-1]
    text = text.strip().lower()
    return text if "@" in text and " " not in text else None
