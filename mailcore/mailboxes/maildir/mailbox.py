"""`MaildirMailbox`: the Mailbox protocol on a local Maildir++ folder tree (the embedded default).

Layout: the root is INBOX (``cur/ new/ tmp/``), a folder ``a/b`` is the directory ``.a.b``, as
Dovecot and Courier lay it out; folders are created with the stdlib `mailbox.Maildir`.

UIDs: each folder keeps ``mailcore-uidlist``, an append-only log shared by all processes (see
`uidlog`). New files, including ones an MTA drops into ``new/``, get the next UIDs in key
order. Deleting the log renumbers the folder under a new UIDVALIDITY, which is what IMAP
clients expect.

Moves hard-link (or, across file systems, copy and fsync) into the destination, fsync the
destination directory, check the copy, and only then unlink the source: a crash leaves at worst
a message in both folders, never in neither.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import mailbox
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import TypeVar

from mailcore.errors import MailboxError
from mailcore.inbound import headers
from mailcore.mailboxes.maildir import uidlog
from mailcore.mailboxes.maildir.uidlog import _Folder, _fsync_dir, _private
from mailcore.mailboxes.protocol import MoveResult, Summary, searchable

logger = logging.getLogger(__name__)

T = TypeVar("T")

_INFO_SEP = ":2,"
# Maildir info letters <-> IMAP system flags.
_LETTER_TO_FLAG = {
    "D": "\\Draft",
    "F": "\\Flagged",
    "R": "\\Answered",
    "S": "\\Seen",
    "T": "\\Deleted",
}
_FLAG_TO_LETTER = {v.lower(): k for k, v in _LETTER_TO_FLAG.items()}
# A directory listing is trusted from its mtime only once that mtime is older than this, since
# two changes within one timestamp tick would otherwise look like one.
_SETTLE_SECONDS = 1.0
_SUMMARY_CACHE = 50_000
_HEADER_READ = 8192
# A header block is read this far at most: a mail without one is not read whole for a list.
_HEADER_LIMIT = 256 * 1024


@dataclass
class _Head:
    """What a summary needs from a message's headers; the file content never changes."""

    date: datetime | None
    sender: str
    subject: str
    message_id: str | None


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _flags_of(name: str) -> tuple[str, ...]:
    _, sep, info = name.partition(_INFO_SEP)
    if not sep:
        return ()
    return tuple(_LETTER_TO_FLAG[c] for c in sorted(info) if c in _LETTER_TO_FLAG)


def _info_for(flags: Sequence[str]) -> str:
    letters = sorted({_FLAG_TO_LETTER[f.lower()] for f in flags if f.lower() in _FLAG_TO_LETTER})
    return _INFO_SEP + "".join(letters)


class MaildirMailbox:
    """A Maildir++ tree on disk as a `Mailbox`; thread-safe, and safe to share between processes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        for sub in ("cur", "new", "tmp"):  # the stdlib creates these only for a new root
            os.makedirs(os.path.join(self.root, sub), mode=0o700, exist_ok=True)
        self._md = mailbox.Maildir(self.root, factory=None, create=True)
        self._lock = threading.RLock()
        self._folders: dict[str, _Folder] = {}
        self._heads: OrderedDict[str, _Head] = OrderedDict()
        self._host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        self._counter = itertools.count()
        self._parser = BytesHeaderParser(policy=compat32)

    # -- folders -------------------------------------------------------------------------

    def _dir(self, folder: str) -> str:
        if folder.upper() == "INBOX":
            return self.root
        parts = folder.split("/")
        if not folder or any(not p or "." in p or p in {"cur", "new", "tmp"} for p in parts):
            raise MailboxError(
                f"invalid folder name {folder!r}: use names without dots, '/' between levels"
            )
        return os.path.join(self.root, "." + ".".join(parts))

    def ensure_folder(self, folder: str) -> None:
        """Create the folder if it does not exist."""
        with self._lock:
            path = self._dir(folder)
            if path != self.root and not os.path.isdir(os.path.join(path, "cur")):
                self._md.add_folder(os.path.basename(path)[1:])
                # The stdlib makes its (empty) marker file with the umask's mode; keep to 0600.
                os.chmod(os.path.join(path, "maildirfolder"), 0o600)

    def _folder(self, folder: str, create: bool = False) -> _Folder:
        path = self._dir(folder)
        state = self._folders.get(path)
        if state is None or not os.path.isdir(os.path.join(path, "cur")):
            if not os.path.isdir(os.path.join(path, "cur")):
                if not create:
                    raise MailboxError(f"folder {folder!r} does not exist in {self.root}")
                self.ensure_folder(folder)
            # A folder deleted and made again must not reuse its old UIDVALIDITY.
            state = self._folders[path] = _Folder(
                path, uidvalidity=state.uidvalidity if state else 0
            )
        self._sync(state)
        return state

    # -- directory scan ------------------------------------------------------------------

    def _sync(self, state: _Folder) -> None:
        new, cur = os.path.join(state.path, "new"), os.path.join(state.path, "cur")
        stamp = (os.stat(new).st_mtime_ns, os.stat(cur).st_mtime_ns)
        if stamp == state.dir_stamp and uidlog.read(state) and state.uidvalidity:
            return
        files: dict[str, tuple[str, str]] = {}
        for sub, directory in (("new", new), ("cur", cur)):
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    files[entry.name.split(":", 1)[0]] = (sub, entry.name)
        state.files = files
        has_log = uidlog.read(state)
        missing = sorted(k for k in files if k not in state.key_uid)
        if not has_log or missing:
            uidlog.assign(state, missing)
        settled = time.time_ns() - max(stamp) > _SETTLE_SECONDS * 1e9
        state.dir_stamp = stamp if settled else None

    def _path_of(self, state: _Folder, uid: int) -> str | None:
        key = state.uid_key.get(uid)
        where = state.files.get(key) if key is not None else None
        return os.path.join(state.path, *where) if where else None

    def _new_key(self) -> str:
        return f"{time.time_ns()}.P{os.getpid()}Q{next(self._counter)}.{self._host}"

    # -- Mailbox protocol ----------------------------------------------------------------

    def uidvalidity(self, folder: str) -> int:
        """The folder's UIDVALIDITY (the time its uidlist was started)."""
        with self._lock:
            return self._folder(folder).uidvalidity

    def uids(self, folder: str) -> list[int]:
        """UIDs of messages not flagged \\Deleted (Maildir "T"), ascending."""
        with self._lock:
            state = self._folder(folder)
            return sorted(
                state.key_uid[key]
                for key, (_, name) in state.files.items()
                if "T" not in name.partition(_INFO_SEP)[2]
            )

    def _head(self, key: str, path: str) -> _Head:
        head = self._heads.get(key)
        if head is not None:
            self._heads.move_to_end(key)
            return head
        with open(path, "rb") as fh:
            data = fh.read(_HEADER_READ)
            if b"\n\n" not in data and b"\r\n\r\n" not in data:  # a long header block, or none
                data += fh.read(_HEADER_LIMIT - len(data))
        block = headers.header_block(data, _HEADER_LIMIT)
        fields = headers.header_fields(block)
        head = _Head(
            headers.parse_date(fields.get("date")),
            headers.decode_words(fields.get("from", "")),
            headers.decode_words(fields.get("subject", "")),
            headers.message_id(block),  # hostile or broken mail may have none
        )
        self._heads[key] = head
        if len(self._heads) > _SUMMARY_CACHE:
            self._heads.popitem(last=False)
        return head

    def summaries(self, folder: str, uids: Sequence[int]) -> list[Summary]:
        """Summaries from the header block only; missing UIDs are skipped."""
        with self._lock:
            state = self._folder(folder)
            out = []
            for uid in uids:
                path = self._path_of(state, uid)
                if path is None:
                    continue
                try:
                    size = os.stat(path).st_size
                    head = self._head(state.uid_key[uid], path)
                except FileNotFoundError:  # removed by another process since the scan
                    continue
                out.append(
                    Summary(
                        uid=uid,
                        date=head.date,
                        sender=head.sender,
                        subject=head.subject,
                        size=size,
                        flags=_flags_of(os.path.basename(path)),
                        message_id=head.message_id,
                    )
                )
            return out

    def sizes(self, folder: str, uids: Sequence[int]) -> dict[int, int]:
        """Size in bytes by UID (the files' sizes); missing UIDs are absent."""
        return self._each_file(folder, uids, lambda path: os.stat(path).st_size)

    def search_from(self, folder: str, sender: str) -> list[int]:
        """UIDs whose From header contains `sender` (case-insensitive), like IMAP SEARCH FROM;
        text no IMAP string can carry matches nothing, as on IMAP."""
        if not searchable(sender):
            return []
        needle = sender.lower()
        with self._lock:
            return [
                s.uid
                for s in self.summaries(folder, self.uids(folder))
                if needle in s.sender.lower()
            ]

    def find(self, folder: str, message_id: str) -> list[int]:
        """UIDs whose Message-ID header contains `message_id`, case-insensitive like IMAP
        SEARCH HEADER (candidates: compare bytes)."""
        needle = message_id.strip().lower()
        if not needle or not searchable(needle):
            return []
        with self._lock:
            return [
                s.uid
                for s in self.summaries(folder, self.uids(folder))
                if s.message_id and needle in s.message_id.lower()
            ]

    def discard(self, folder: str, uids: Sequence[int]) -> None:
        """Unlink these messages -- only for ones whose copy is confirmed elsewhere."""
        with self._lock:
            state = self._folder(folder)
            items = [(uid, path) for uid in uids if (path := self._path_of(state, uid))]
            if items:
                self._remove(state, items)

    def fetch(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        """Raw bytes by UID; reading a file never marks it seen."""
        return self._each_file(folder, uids, _read_file)

    def _each_file(
        self, folder: str, uids: Sequence[int], read: Callable[[str], T]
    ) -> dict[int, T]:
        """`read(path)` of each message file by UID; missing UIDs, and files removed by another
        process since the scan, are absent."""
        with self._lock:
            state = self._folder(folder)
            out: dict[int, T] = {}
            for uid in uids:
                path = self._path_of(state, uid)
                if path is None:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    out[uid] = read(path)
            return out

    def _deliver(self, dest: _Folder, sub: str, name: str, source: str | None, raw: bytes) -> str:
        """Put a durable copy at dest/sub/name: a hard link, else a written and fsynced file."""
        target = os.path.join(dest.path, sub, name)
        if source is not None:
            try:
                os.link(source, target)
                return target
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                with open(source, "rb") as fh:
                    raw = fh.read()
        tmp = os.path.join(dest.path, "tmp", name)
        with open(tmp, "xb", opener=_private) as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, target)
        return target

    def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int | None:
        """Deliver a message (tmp/ then new/ or cur/, fsynced); returns its UID."""
        with self._lock:
            state = self._folder(folder, create=True)
            key = self._new_key()
            sub = "cur" if flags else "new"
            name = key + (_info_for(flags) if flags else "")
            self._deliver(state, sub, name, None, raw)
            _fsync_dir(os.path.join(state.path, sub))
            state.files[key] = (sub, name)
            return uidlog.assign(state, [key])[key]

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        """Copy into `dest` durably, confirm every copy, then unlink the sources."""
        with self._lock:
            src = self._folder(folder)
            target = self._folder(dest, create=True)
            if src.path == target.path:
                return MoveResult({uid: uid for uid in uids if self._path_of(src, uid)})
            copies: list[tuple[int, str, str, str, int]] = []  # uid, src path, key, copy, size
            for uid in uids:
                path = self._path_of(src, uid)
                if path is None:
                    continue
                sub, name = src.files[src.uid_key[uid]]
                key = self._new_key()  # a fresh key: UIDs in dest must be new and ascending
                info = name[len(name.split(":", 1)[0]) :]
                try:
                    size = os.stat(path).st_size
                    copy = self._deliver(target, sub, key + info, path, b"")
                except FileNotFoundError:  # moved or deleted by another client meanwhile
                    logger.info("uid %s of %r is gone (another client): not moved", uid, folder)
                    continue
                copies.append((uid, path, key, copy, size))
                target.files[key] = (sub, key + info)
            if not copies:
                return MoveResult()
            for sub in ("new", "cur"):
                _fsync_dir(os.path.join(target.path, sub))
            for _, _, _, copy, size in copies:
                if os.stat(copy).st_size != size:
                    raise MailboxError(f"copy {copy} is incomplete; sources left in {folder!r}")
            new_uids = uidlog.assign(target, [key for _, _, key, _, _ in copies])
            self._remove(src, [(uid, path) for uid, path, _, _, _ in copies])
            return MoveResult({uid: new_uids[key] for uid, _, key, _, _ in copies})

    def _remove(self, state: _Folder, items: Sequence[tuple[int, str]]) -> None:
        for uid, path in items:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            state.files.pop(state.uid_key[uid], None)
        for sub in ("new", "cur"):
            _fsync_dir(os.path.join(state.path, sub))
        state.dir_stamp = None

    def close(self) -> None:
        """Forget cached state; the files need no closing. Safe to call twice."""
        with self._lock:
            self._folders.clear()
            self._heads.clear()
