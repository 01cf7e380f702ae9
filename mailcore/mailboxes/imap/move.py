"""`ImapMover`: the move protocol of the IMAP backend.

UID MOVE when offered, else UID COPY, confirm the copy (COPYUID, else the Message-ID among
the messages that arrived in the destination), flag the source \\Deleted and UID EXPUNGE
exactly those UIDs -- never a bare EXPUNGE, so other clients' \\Deleted mail is left alone;
without UIDPLUS nothing is expunged. A batch interrupted by a dropped connection is picked up
from its `_BatchState`: the retry first works out what the server already did, recognising the
copies already made by their bytes (size, then SHA-256), never by Message-ID alone.

Other clients move and expunge mail from the same folder: that is normal. A message gone
before the move (NIL in a FETCH, or the server's ``NO [EXPUNGEISSUED]`` refusing a whole MOVE
or COPY) is left out and the rest moved; it is simply absent from the result.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from imapclient import IMAPClient

from mailcore.errors import MailboxError
from mailcore.inbound import headers
from mailcore.mailboxes.imap import wire
from mailcore.mailboxes.imap.session import ImapSession
from mailcore.mailboxes.imap.values import (
    _bytes,
    _chunks,
    _copyuid,
    _copyuid_validity,
    _text,
    _uidset,
)

log = logging.getLogger(__name__)

DELETED = b"\\Deleted"
_MID_ITEM = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_MID_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
# How often a MOVE/COPY refused because some of its messages vanished is narrowed and re-sent.
_VANISHED_RETRIES = 5


class _Vanished(Exception):
    """Internal: the server refused a MOVE/COPY as some of its messages no longer exist."""


@dataclass
class _BatchState:
    """What a move of one batch has done so far, so a retry can pick up safely."""

    uids: list[int]
    dest_uidnext: int | None = None  # destination UIDNEXT before anything was copied
    dest_ready: bool = False  # the destination exists (created if it did not), UIDNEXT taken
    sent: bool = False  # MOVE/COPY may have reached the server
    message_ids: dict[int, str | None] = field(default_factory=dict)
    moved: dict[int, int | None] = field(default_factory=dict)
    # Without UIDPLUS (no COPYUID): each original's size and SHA-256, to find its copy's UID.
    digests: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    # The destination's UIDVALIDITY, when the server's COPYUID gave every new UID with it.
    validity: int | None = None


class ImapMover:
    """Moves and removes messages on one session (see the module docstring)."""

    def __init__(self, session: ImapSession) -> None:
        self._session = session

    def move_batch(self, client: IMAPClient, folder: str, dest: str, st: _BatchState) -> None:
        """Move one batch (`st.uids`) from `folder` to `dest`, recording the new UIDs in `st`;
        run again after a drop, it first works out what the interrupted attempt did."""
        if not self._session.select(client, folder, uids_from_caller=True):
            return
        if not st.sent:
            asked = None
            if self._atomic_move():
                # UID MOVE reports every new UID (COPYUID), so the Message-IDs -- needed only
                # to recognise copies -- are fetched on a retry, from what is still here.
                # The destination's STATUS goes ahead of the SEARCH: one round trip for both.
                asked = None if st.dest_ready else wire.send_status(client, dest)
                uidset = _uidset(st.uids).encode()
                live = set(self._session.search(client, b"UID", uidset, b"UNDELETED"))
                skipped = [u for u in st.uids if u not in live]
                todo = [u for u in st.uids if u in live]
            else:
                info = _present(client.fetch(st.uids, ["FLAGS", _MID_ITEM]))
                st.message_ids = {u: d.message_id for u, d in info.items()}
                skipped = [u for u in st.uids if u not in info or info[u].deleted]
                todo = [u for u in st.uids if u not in skipped]
            if not st.dest_ready:  # before anything is sent: a lower bound of the new UIDs
                st.dest_uidnext = self._session.dest_uidnext(client, dest, asked)
                st.dest_ready = True
            if skipped:
                log.info("not moving %s from %r: gone or flagged \\Deleted", skipped, folder)
            st.uids = todo
            if not todo:
                return
            if "UIDPLUS" not in self._session.capabilities:
                bodies = wire.read_bodies(client, todo)
                st.digests = {u: (len(raw), _digest(raw)) for u, raw in bodies.items()}
            st.sent = True
            self._transfer(client, folder, dest, todo, st)
            return
        # Retry after a drop: work out what the interrupted attempt already did.
        info = _present(client.fetch(st.uids, ["FLAGS", _MID_ITEM])) if st.uids else {}
        for u, d in info.items():
            st.message_ids.setdefault(u, d.message_id)
        gone = [u for u in st.uids if u not in info]
        flagged = [u for u in st.uids if u in info and info[u].deleted]
        pending = [u for u in st.uids if u in info and not info[u].deleted]
        # Copies of what is still here are recognised by their bytes; of what is gone (moved
        # by the interrupted MOVE), by Message-ID when it has one, else the UID stays unknown.
        copies = self.find_copies(client, folder, dest, st.dest_uidnext, flagged + pending)
        mids = [m for u in gone if (m := st.message_ids.get(u))]
        in_dest = self.find_new(client, dest, st.dest_uidnext, mids) if mids else {}
        for u in gone:
            if st.moved.get(u) is None:
                st.moved[u] = in_dest.get(st.message_ids.get(u) or "")
        for u in flagged:
            if st.moved.get(u) is None:
                st.moved[u] = copies.get(u)
        already = [u for u in pending if u in copies]
        for u in already:
            st.moved[u] = copies[u]
        self._session.select(client, folder, uids_from_caller=True)  # dest was selected
        if flagged or already:  # their copies are confirmed; finish removing the originals
            self.remove(client, folder, flagged + already)
        rest = [u for u in pending if u not in already]
        if rest:
            self._transfer(client, folder, dest, rest, st)
        st.validity = None  # some UIDs were found, not told: the caller asks the folder's

    def _transfer(
        self, client: IMAPClient, folder: str, dest: str, uids: list[int], st: _BatchState
    ) -> None:
        """MOVE (or COPY, confirm, remove) `uids`; when the server refuses because another
        client removed some of them meanwhile ([EXPUNGEISSUED]), the rest is sent again."""
        for _ in range(_VANISHED_RETRIES):
            try:
                if self._session.config.use_move and "MOVE" in self._session.capabilities:
                    self._send_move(client, folder, dest, uids, st)
                else:
                    self._send_copy(client, folder, dest, uids, st)
                return
            except _Vanished:
                uids = self._still_here(client, folder, uids)
                if not uids:
                    return
        raise MailboxError(
            f"moving messages from {folder!r} to {dest!r} on {self._session.config.address}: "
            "other clients kept removing them during the move; try again"
        )

    def _still_here(self, client: IMAPClient, folder: str, uids: list[int]) -> list[int]:
        """The UIDs of `uids` still in `folder` and not flagged \\Deleted, after a NOOP that
        brings the session's view up to date with other clients' expunges."""
        client.noop()
        live = set(self._session.search(client, b"UID", _uidset(uids).encode(), b"UNDELETED"))
        gone = len(uids) - len(live)
        log.info("%d message(s) of %r removed by another client: not moving them", gone, folder)
        return [u for u in uids if u in live]

    def _refused(self, what: str, folder: str, dest: str, uids: list[int], data: object) -> None:
        if b"EXPUNGEISSUED" in _bytes(data).upper():
            raise _Vanished()
        raise MailboxError(
            f"{what} {len(uids)} message(s) from {folder!r} to {dest!r} on "
            f"{self._session.config.address} was refused: {_text(data)}"
        )

    def _send_move(
        self, client: IMAPClient, folder: str, dest: str, uids: list[int], st: _BatchState
    ) -> None:
        typ, data, codes = wire.uid_move(client, _uidset(uids), dest)
        if typ != "OK":
            self._refused("moving", folder, dest, uids, data)
        text = b" ".join(b"[COPYUID " + _bytes(c) + b"]" for c in codes)
        mapping = self._copyuid(text)
        for u in uids:
            st.moved[u] = mapping.get(u)
        st.validity = self._validity(text, mapping, uids)
        if len(mapping) < len(uids):
            self._fill_from_dest(client, dest, uids, st)

    def _send_copy(
        self, client: IMAPClient, folder: str, dest: str, uids: list[int], st: _BatchState
    ) -> None:
        uidset = _uidset(uids)
        typ, data = wire.uid_copy(client, uidset, dest)
        if typ != "OK":
            self._refused("copying", folder, dest, uids, data)
        text = b" ".join(_bytes(d) for d in data)
        confirmed: dict[int, int | None] = dict(self._copyuid(text))
        st.validity = self._validity(text, confirmed, uids)
        missing: list[int] = []
        if len(confirmed) < len(uids):
            # No COPYUID: confirm by bytes (or Message-ID) among what arrived in `dest` since.
            self._fill_from_dest(client, dest, uids, st)
            self._session.select(client, folder, uids_from_caller=True)  # find_new selected `dest`
            for u in uids:
                if u in confirmed:
                    continue
                if st.moved.get(u) is not None:
                    confirmed[u] = st.moved[u]
                elif st.message_ids.get(u) is None and u not in st.digests:
                    # Nothing to recognise it by: the server's OK for COPY is all there is.
                    log.info("copy of UID %d to %r trusted on the server's OK", u, dest)
                    confirmed[u] = None
                else:
                    missing.append(u)
        st.moved.update(confirmed)
        self.remove(client, folder, [u for u in uids if u in confirmed])
        if missing:
            raise MailboxError(
                f"copy of UID(s) {_uidset(missing)} from {folder!r} to {dest!r} on "
                f"{self._session.config.address} could not be confirmed; those originals were "
                "left in place"
            )

    def _atomic_move(self) -> bool:
        """UID MOVE with COPYUID: one command moves and reports every new UID."""
        caps = self._session.capabilities
        return self._session.config.use_move and "MOVE" in caps and "UIDPLUS" in caps

    def _copyuid(self, text: bytes) -> dict[int, int]:
        # A server that does not advertise UIDPLUS makes no promise about COPYUID codes.
        return _copyuid(text) if "UIDPLUS" in self._session.capabilities else {}

    def _validity(self, text: bytes, told: dict[int, Any], uids: list[int]) -> int | None:
        """The destination UIDVALIDITY of the COPYUID codes, when they told every new UID."""
        if "UIDPLUS" not in self._session.capabilities or any(u not in told for u in uids):
            return None
        return _copyuid_validity(text)

    def remove(self, client: IMAPClient, folder: str, uids: list[int]) -> None:
        """Flag `uids` \\Deleted and expunge exactly those (UIDPLUS), never others."""
        if not uids:
            return
        client.add_flags(uids, [DELETED], silent=True)
        if "UIDPLUS" in self._session.capabilities:
            client.uid_expunge(uids)
        else:
            log.warning(
                "%s has no UIDPLUS: %d moved message(s) left flagged \\Deleted in %r (expunging "
                "would also remove other clients' deleted mail)",
                self._session.config.address,
                len(uids),
                folder,
            )

    def _fill_from_dest(
        self, client: IMAPClient, dest: str, uids: list[int], st: _BatchState
    ) -> None:
        """The new UIDs the server did not report: by the originals' bytes when they were read
        before the move (no UIDPLUS), else by Message-ID."""
        wanted = {u: st.digests[u] for u in uids if u in st.digests and st.moved.get(u) is None}
        if wanted:
            self._session.selected = None
            client.select_folder(dest, readonly=True)
            st.moved.update(self._by_content(client, st.dest_uidnext, wanted))
        mids = [m for u in uids if u not in st.digests and (m := st.message_ids.get(u))]
        found = self.find_new(client, dest, st.dest_uidnext, mids) if mids else {}
        for u in uids:
            mid = st.message_ids.get(u)
            if mid and mid in found and st.moved.get(u) is None:
                st.moved[u] = found[mid]

    def _by_content(
        self, client: IMAPClient, since_uid: int | None, wanted: dict[int, tuple[int, bytes]]
    ) -> dict[int, int]:
        """Original UID -> UID of the message of the selected folder (UID >= since_uid) with
        the same size and SHA-256; each copy answers for one original."""
        first = since_uid or 1
        recent = [u for u in self._session.search(client, b"UID", b"%d:*" % first) if u >= first]
        sizes = wire.read_sizes(client, recent) if recent else {}
        want_sizes = {size for size, _ in wanted.values()}
        same = sorted(u for u, n in sizes.items() if n in want_sizes)
        copies: dict[bytes, list[int]] = {}
        for u, raw in sorted(wire.read_bodies(client, same).items()):
            copies.setdefault(_digest(raw), []).append(u)
        found: dict[int, int] = {}
        for u in sorted(wanted):
            match = copies.get(wanted[u][1])
            if match:
                found[u] = match.pop(0)
        return found

    def find_new(
        self, client: IMAPClient, folder: str, since_uid: int | None, message_ids: Iterable[str]
    ) -> dict[str, int]:
        """Message-ID -> UID among messages of `folder` with UID >= since_uid (one FETCH)."""
        wanted = set(message_ids)
        if not wanted:
            return {}
        self._session.selected = None
        client.select_folder(folder, readonly=True)
        first = since_uid or 1
        found: dict[str, int] = {}
        # "n:*" also matches the highest UID when all are below n
        recent = [u for u in self._session.search(client, b"UID", b"%d:*" % first) if u >= first]
        for batch in _chunks(sorted(int(u) for u in recent), self._session.config.batch_size):
            for uid, data in client.fetch(batch, [_MID_ITEM]).items():
                mid = headers.message_id(data.get(_MID_KEY, b""))
                if mid in wanted:
                    found.setdefault(mid, int(uid))
        return found

    def find_copies(
        self,
        client: IMAPClient,
        folder: str,
        dest: str,
        since_uid: int | None,
        uids: list[int],
    ) -> dict[int, int]:
        """Source UID -> UID of its copy among the messages of `dest` with UID >= since_uid:
        the same bytes (size, then SHA-256), so a message without Message-ID, or sharing one
        with another, is recognised all the same. Read on a retry after a drop only. The
        session's `selected` says which folder it leaves selected."""
        if not uids:
            return {}
        self._session.select(client, folder, uids_from_caller=True)
        bodies = wire.read_bodies(client, uids)
        self._session.selected = None
        client.select_folder(dest, readonly=True)
        return self._by_content(
            client, since_uid, {u: (len(r), _digest(r)) for u, r in bodies.items()}
        )


def _digest(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


class _Present(NamedTuple):
    deleted: bool
    message_id: str | None


def _present(info: dict[int, dict[bytes, Any]]) -> dict[int, _Present]:
    """FETCH answers of FLAGS and the Message-ID field by int UID, without the messages another
    client expunged meanwhile (the server answers NIL for their fields)."""
    out: dict[int, _Present] = {}
    for uid, data in info.items():
        field_ = data.get(_MID_KEY)
        if field_ is None or b"FLAGS" not in data:
            continue
        out[int(uid)] = _Present(DELETED in data[b"FLAGS"], headers.message_id(_bytes(field_)))
    return out
