"""What goes on the IMAP wire, and the ONLY module reaching into imaplib's and imapclient's
internals (`client._imap`, `_simple_command`, `_raw_command`, `_normalise_folder`,
`untagged_responses`, `_literal`, `debug`, and for the quick reader and the STATUS sent
ahead `_command`, `_command_complete`, `_untagged_response`, `readline`, `read`,
`tagged_commands` and imaplib's response patterns).

Caller-controlled strings never become command text: a search value or Message-ID goes through
`_imap_string` (a quoted string when it is printable ASCII, else a literal, with CHARSET UTF-8
when it is not ASCII), a folder name through `_folder_name` and a flag through `_flag`; what
no IMAP string can carry (NUL, a lone surrogate, more than `MAX_IMAP_STRING` bytes, a control
character in a folder name) raises `UnsendableValue` before anything is sent.

The quick readers (`_fetch_bodies`, `_fetch_sizes`) take FETCH answers in imaplib's shape, read
by `_complete` -- imaplib's response loop with a short path for FETCH lines, the rest stored
as imaplib stores it -- unless imaplib is tracing (`quiet`); `read_bodies` and `read_sizes`
fall back to imapclient's parser for answers of another shape;
`search` sends UID SEARCH with literals; `uid_move` and `uid_copy` send the move protocol's
commands, `send_status` its STATUS ahead of the next command; `append` sends APPEND with the
message as one literal, never copied whole.
"""

from __future__ import annotations

import imaplib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient.imapclient import _literal, as_pairs
from imapclient.response_parser import parse_message_list, parse_response

from mailcore.errors import MailboxError, UnsendableValue
from mailcore.mailboxes.imap.values import (
    _bytes,
    _expand,
    _text,
    _uidset,
    crlf_pieces,
    crlf_size,
)
from mailcore.mailboxes.protocol import MAX_SEARCH_VALUE

_ESEARCH_ALL = re.compile(rb"\bALL ([0-9:,]+)", re.IGNORECASE)
# An untagged FETCH answer as imaplib's Untagged_status takes it: "* n FETCH data".
_UNTAGGED_FETCH = re.compile(rb"\* (\d+) FETCH (.+)")
# imaplib's own patterns (not its public API), so other lines are taken as imaplib takes them.
_UNTAGGED: re.Pattern[bytes] = imaplib.Untagged_response  # type: ignore[attr-defined]
_CONTINUATION: re.Pattern[bytes] = imaplib.Continuation  # type: ignore[attr-defined]
_RESPONSE_CODE: re.Pattern[bytes] = imaplib.Response_code  # type: ignore[attr-defined]
_FETCH_BODY = re.compile(rb"\d+ \(UID (\d+) BODY\[\] \{\d+\}$", re.IGNORECASE)
_FETCH_SIZE = re.compile(
    rb"\d+ \((?:UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+))\)", re.IGNORECASE
)
# Search values and folder names longer than this are refused (a search for one matches
# nothing): far above any real header or folder name, far below what a server takes in a line.
MAX_IMAP_STRING = MAX_SEARCH_VALUE
# RFC 3501 ATOM-CHAR; a flag is an atom, optionally after one backslash (system flags).
_ATOM_CHAR = r"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]"
_ATOM = re.compile(f"{_ATOM_CHAR}+")
_FLAG = re.compile(rf"\\?{_ATOM_CHAR}+")
# Our own search keys and UID sets, never a caller's text.
_SEARCH_ATOM = re.compile(rb"[A-Za-z0-9:,*.()-]+")
# Where imapclient sends imaplib's protocol trace.
_TRACE = logging.getLogger("imapclient.imaplib")


@dataclass(frozen=True)
class _Wire:
    """One caller's string as it goes on the wire: a quoted string or a literal's bytes."""

    data: bytes
    literal: bool

    @property
    def arg(self) -> bytes:
        """The argument for imapclient's `_raw_command`, which sends `_literal`s as {n}."""
        return _literal(self.data) if self.literal else self.data

    @property
    def ascii(self) -> bool:
        return self.data.isascii()


def _imap_string(value: str, what: str = "value") -> _Wire:
    """`value` as an IMAP string: quoted when printable ASCII, else a literal (which carries
    CR, LF and UTF-8 as data). Raises UnsendableValue for what no IMAP string can carry."""
    if "\x00" in value:
        raise UnsendableValue(f"the {what} holds a NUL character, which IMAP cannot carry")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsendableValue(
            f"the {what} is not valid text (it holds a lone surrogate); it cannot be sent"
        ) from None
    if len(data) > MAX_IMAP_STRING:
        raise UnsendableValue(
            f"the {what} is {len(data)} bytes long; at most {MAX_IMAP_STRING} are sent to the "
            "mail server -- shorten it"
        )
    if all(0x20 <= b < 0x7F for b in data):
        return _Wire(b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"', False)
    return _Wire(data, True)


def _folder_name(folder: str) -> str:
    """`folder`, checked: imapclient sends it quoted, in modified UTF-7 (printable ASCII), but
    a name with a line break or another control character is never meant, so it is refused."""
    if not isinstance(folder, str) or not folder:
        raise UnsendableValue(f"the folder name {folder!r} is empty -- name a folder")
    if len(folder.encode("utf-8", "replace")) > MAX_IMAP_STRING:
        raise UnsendableValue(
            f"the folder name is over {MAX_IMAP_STRING} bytes long -- use a shorter one"
        )
    bad = next((c for c in folder if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise UnsendableValue(
            f"the folder name {folder!r} holds the control character {bad!r}; IMAP folder names "
            "cannot -- use another name"
        )
    return folder


def _flag(flag: str) -> str:
    """`flag`, checked to be an IMAP flag (an atom, or a backslash and an atom): imapclient
    sends flags as they are, so anything else could end the command early."""
    if not isinstance(flag, str) or not _FLAG.fullmatch(flag):
        raise UnsendableValue(
            f"{flag!r} is not an IMAP flag (letters, digits and a few marks, optionally after "
            "one backslash, e.g. \\Seen or $Label)"
        )
    return flag


def _login_name(username: str) -> str:
    """The user name for LOGIN: as it is when it is an atom, else a quoted string."""
    if _ATOM.fullmatch(username):
        return username
    wire = _imap_string(username, "user name")
    if wire.literal:  # imaplib sends LOGIN as one line of ASCII
        raise UnsendableValue(
            "the IMAP user name must be printable ASCII for LOGIN -- check the setting"
        )
    return wire.data.decode("ascii")


def quiet(client: IMAPClient) -> None:
    """imaplib's protocol trace on only while its logger takes DEBUG (asked before each
    operation, so a logger enabled later is heard): imapclient sets imaplib's debug level to
    5, at which imaplib formats the repr of every line and literal it reads -- a whole message
    per body fetched -- for a logger that then drops it: half the CPU of a FETCH of bodies."""
    client._imap.debug = 5 if _TRACE.isEnabledFor(logging.DEBUG) else 0


def _uid_fetch(client: IMAPClient, uids: list[int], items: str) -> list[Any]:
    """UID FETCH of `items`; the untagged FETCH answers as imaplib keeps them (lines, and
    (line, literal) pairs), read by `_complete` unless imaplib is tracing."""
    imap = client._imap
    imap.untagged_responses.pop("FETCH", None)
    tag = imap._command("UID", "FETCH", _uidset(uids), items)
    if imap.debug >= 4:  # imaplib's own reader, which traces every line
        typ, data = imap._command_complete("UID", tag)
        fetched = list(imap.untagged_responses.pop("FETCH", []))
    else:
        fetched = []
        typ, data = _complete(imap, "UID", tag, fetched)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH failed: {_text(data)}")
    return fetched


def _complete(imap: Any, name: str, tag: bytes, fetched: list[Any]) -> tuple[str, list[Any]]:
    """imaplib's `_command_complete` for a command answered by many FETCH lines: the same
    checks, errors and results, the untagged FETCH answers in `fetched` instead of imaplib's
    store -- each read with a few operations instead of imaplib's dozen calls and regexes,
    which cost as much as the rest of a FETCH of 500 bodies."""
    imap._check_bye()
    try:
        while (result := imap.tagged_commands[tag]) is None:
            line = _line(imap)
            answer = _UNTAGGED_FETCH.match(line)
            if answer is None:
                _response(imap, line)
                fetched.extend(imap.untagged_responses.pop("FETCH", ()))  # e.g. "* 4 FETCH"
                imap._check_bye()
                continue
            dat = answer.group(1) + b" " + answer.group(2)  # imaplib's shape: "n (...)"
            while dat.endswith(b"}") and (literal := imap.Literal.match(dat)):
                fetched.append((dat, imap.read(int(literal.group("size")))))
                dat = _line(imap)
            fetched.append(dat)
        del imap.tagged_commands[tag]
    except imap.abort as e:
        raise imap.abort(f"command: {name} => {e}") from e
    except imap.error as e:
        raise imap.error(f"command: {name} => {e}") from e
    imap._check_bye()
    typ, data = result
    if typ == "BAD":
        raise imap.error(f"{name} command error: {typ} {data}")
    return typ, data


def _line(imap: Any) -> bytes:
    """One response line without its CRLF (imaplib's `_get_line`, without its debug log)."""
    line = imap.readline()
    if not line:
        raise imap.abort("socket error: EOF")
    if not line.endswith(b"\r\n"):
        raise imap.abort(f"socket error: unterminated line: {line!r}")
    return line[:-2]


def _response(imap: Any, resp: bytes) -> None:
    """Any other response line, stored as imaplib's `_get_response` stores it (tagged
    results, untagged responses with their literals, response codes), with imaplib's own
    patterns."""
    tagged = imap.tagre.match(resp)
    if tagged is not None:
        if tagged.group("tag") not in imap.tagged_commands:
            raise imap.abort(f"unexpected tagged response: {resp!r}")
        typ = str(tagged.group("type"), imap._encoding)
        dat = tagged.group("data")
        imap.tagged_commands[tagged.group("tag")] = (typ, [dat])
    else:
        dat2: bytes | None = None
        untagged = _UNTAGGED.match(resp)
        if untagged is None:
            untagged = imap.Untagged_status.match(resp)
            dat2 = untagged.group("data2") if untagged is not None else None
        if untagged is None:
            go_ahead = _CONTINUATION.match(resp)
            if go_ahead is None:
                raise imap.abort(f"unexpected response: {resp!r}")
            imap.continuation_response = go_ahead.group("data")
            return
        typ = str(untagged.group("type"), imap._encoding)
        dat = untagged.group("data") or b""
        if dat2:
            dat = dat + b" " + dat2
        while literal := imap.Literal.match(dat):
            imap._append_untagged(typ, (dat, imap.read(int(literal.group("size")))))
            dat = _line(imap)
        imap._append_untagged(typ, dat)
    code = _RESPONSE_CODE.match(dat) if typ in ("OK", "NO", "BAD") else None
    if code is not None:
        imap._append_untagged(str(code.group("type"), imap._encoding), code.group("data"))


def _fetch_bodies(client: IMAPClient, uids: list[int]) -> tuple[dict[int, bytes], bool]:
    """UID FETCH BODY.PEEK[] read straight from imaplib's literals (imapclient's generic
    response parser costs more than the rest of the fetch). Returns the bodies and whether a
    literal came in another shape than ``* n FETCH (UID u BODY[] {size}`` (then left out)."""
    wanted = set(uids)
    out: dict[int, bytes] = {}
    odd = False
    for item in _uid_fetch(client, uids, "(UID BODY.PEEK[])"):
        if isinstance(item, tuple):
            match = _FETCH_BODY.match(_bytes(item[0]))
            if match and int(match.group(1)) in wanted and isinstance(item[1], bytes):
                out[int(match.group(1))] = item[1]
            else:
                odd = True
    return out, odd


def _fetch_sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    """UID FETCH RFC822.SIZE read straight from imaplib's untagged lines, as `_fetch_bodies`
    does (the generic parser would cost as much as fetching the bodies); lines of another
    shape are left out."""
    wanted = set(uids)
    out: dict[int, int] = {}
    for item in _uid_fetch(client, uids, "(UID RFC822.SIZE)"):
        match = _FETCH_SIZE.fullmatch(item) if isinstance(item, bytes) else None
        if match:
            uid = int(match.group(1) or match.group(4))
            if uid in wanted:
                out[uid] = int(match.group(2) or match.group(3))
    return out


def read_sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    """RFC822.SIZE by UID: the quick reader, then imapclient's for lines of another shape."""
    out = _fetch_sizes(client, uids)
    rest = [u for u in uids if u not in out]
    for uid, data in client.fetch(rest, [b"RFC822.SIZE"]).items() if rest else ():
        size = data.get(b"RFC822.SIZE")
        if isinstance(size, int):
            out[int(uid)] = size
    return out


def read_bodies(client: IMAPClient, uids: list[int]) -> dict[int, bytes]:
    """Raw bodies by UID (BODY.PEEK[]): the quick reader, then imapclient's when a response
    came in a shape the quick reader does not know."""
    out, odd = _fetch_bodies(client, uids)
    rest = [u for u in uids if u not in out] if odd else []
    for uid, data in client.fetch(rest, ["BODY.PEEK[]"]).items() if rest else ():
        body = data.get(b"BODY[]")
        if body is not None:
            out[int(uid)] = bytes(body)
    return out


def clear_untagged(client: IMAPClient) -> None:
    """Forget unclaimed untagged responses (EXISTS, EXPUNGE...): imaplib keeps them forever."""
    client._imap.untagged_responses.clear()


class LiteralRefused(MailboxError):
    """The server answered a literal's {n} with NO or BAD instead of "+"; the connection is
    then out of step and must be dropped."""


def search(
    client: IMAPClient, criteria: tuple[bytes | _Wire, ...], *, esearch: bool, address: str
) -> list[int]:
    """UID SEARCH of our own keys (bytes) and callers' values (`_Wire`, from
    `_imap_string`: quoted or sent as literals); with ESEARCH the answer is a compact UID
    set, not one number each."""
    args: list[bytes] = []
    for item in criteria:
        if isinstance(item, _Wire):
            args.append(item.arg)
        elif _SEARCH_ATOM.fullmatch(item):
            args.append(item)
        else:  # a caller's text passed as a key: a bug here, not the caller's fault
            raise ValueError(f"search key {item!r} is not an IMAP atom")
    if not all(i.ascii for i in criteria if isinstance(i, _Wire)):
        args[:0] = [b"CHARSET", b"UTF-8"]
    if esearch:
        args[:0] = [b"RETURN", b"(ALL)"]
    imap = client._imap
    imap.untagged_responses.pop("ESEARCH", None)
    imap.untagged_responses.pop("SEARCH", None)
    try:
        typ, data = client._raw_command(b"SEARCH", args, uid=True)
    except imaplib.IMAP4.abort as e:
        if "continuation" not in str(e):
            raise  # a dropped connection
        # Sending the same value again would be refused again.
        raise LiteralRefused(f"search on {address} refused: {_text(e)}") from None
    if typ != "OK":
        raise MailboxError(f"search on {address} failed: {_text(data)}")
    if not esearch:
        lines = imap.untagged_responses.pop("SEARCH", [b""])
        return [int(u) for line in lines for u in parse_message_list([line])]
    found: list[int] = []
    for line in imap.untagged_responses.pop("ESEARCH", []):
        match = _ESEARCH_ALL.search(_bytes(line))
        if match:
            found.extend(_expand(match.group(1)))
    return found


def send_status(client: IMAPClient, folder: str) -> Any:
    """Send STATUS (UIDNEXT) without waiting: the server answers it before any later command,
    and imaplib keeps the answer meanwhile, so `status_answer` after the next command has it
    -- one round trip for both. Returns the command's tag."""
    return client._imap._command(
        "STATUS", client._normalise_folder(_folder_name(folder)), "(UIDNEXT)"
    )


def status_answer(client: IMAPClient, tag: Any) -> dict[bytes, Any] | None:
    """The items a `send_status` asked for, as imapclient's `folder_status` reads them; None
    when the server refused (no such folder, for one)."""
    imap = client._imap
    typ, data = imap._untagged_response(*imap._command_complete("STATUS", tag), "STATUS")
    if typ != "OK":
        return None
    return dict(as_pairs(parse_response(data)[-1])) if data != [None] else {}


def uid_move(client: IMAPClient, uidset: str, dest: str) -> tuple[str, Any, list[Any]]:
    """UID MOVE: the server's status, its data and the COPYUID codes it sent untagged."""
    mailbox = client._normalise_folder(_folder_name(dest))
    imap = client._imap
    imap.untagged_responses.pop("COPYUID", None)
    typ, data = imap._simple_command("UID", "MOVE", uidset, mailbox)
    return typ, data, imap.untagged_responses.pop("COPYUID", [])


def uid_copy(client: IMAPClient, uidset: str, dest: str) -> tuple[str, Any]:
    """UID COPY: the server's status and its data (COPYUID, if any, is in the data)."""
    mailbox = client._normalise_folder(_folder_name(dest))
    typ, data = client._imap._simple_command("UID", "COPY", uidset, mailbox)
    return typ, data


def append(
    client: IMAPClient, folder: str, flags: Sequence[str], raw: bytes, *, literal_plus: bool
) -> bytes:
    """APPEND `raw` to `folder` as one literal, its bare CRs and LFs sent as CRLF piece by
    piece (imaplib's own APPEND holds several copies of the message); with `literal_plus`
    (the server's LITERAL+) without waiting for the go-ahead. Returns the tagged answer's
    text (APPENDUID is there); a refusal raises imaplib's error, a drop its abort."""
    imap = client._imap
    tag = imap._new_tag()
    line = [bytes(tag), b"APPEND", client._normalise_folder(_folder_name(folder))]
    if flags:
        line.append(b"(" + b" ".join(_flag(f).encode("ascii") for f in flags) + b")")
    line.append(b"{%d%s}" % (crlf_size(raw), b"+" if literal_plus else b""))
    imap.send(b" ".join(line) + b"\r\n")
    if not literal_plus:
        while imap._get_response():  # None once the server's "+" came
            if imap.tagged_commands.get(tag) is not None:  # refused before the message
                typ, data = imap.tagged_commands.pop(tag)
                raise imaplib.IMAP4.error(f"APPEND refused: {typ} {_text(data)}")
    for piece in crlf_pieces(raw):
        imap.send(piece)
    imap.send(b"\r\n")
    typ, data = imap._command_complete("APPEND", tag)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"APPEND failed: {typ} {_text(data)}")
    return _bytes(data)
