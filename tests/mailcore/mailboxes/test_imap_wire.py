"""The quick FETCH reader (`wire._complete`) against imaplib's own (`_command_complete`): on
any stream of responses -- FETCH answers with and without literals, other untagged responses,
response codes, a BYE, a torn connection -- the same result or error, and the same responses
stored, the FETCH answers in the quick reader's list instead of imaplib's store."""

from __future__ import annotations

import imaplib
import io
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mailcore.mailboxes.imap import wire

TAG = b"ABCD7"

_data = st.binary(max_size=40)
_uid = st.integers(min_value=1, max_value=10**6)


def _body(uid: int, data: bytes) -> bytes:
    return b"* 3 FETCH (UID %d BODY[] {%d}\r\n%s)\r\n" % (uid, len(data), data)


def _two_literals(head: bytes, body: bytes) -> bytes:
    return b"* 4 FETCH (UID 9 BODY[HEADER] {%d}\r\n%s BODY[] {%d}\r\n%s)\r\n" % (
        len(head),
        head,
        len(body),
        body,
    )


_untagged = st.one_of(
    st.builds(_body, _uid, _data),
    st.builds(_two_literals, _data, _data),
    st.builds(lambda u, n: b"* 2 FETCH (UID %d RFC822.SIZE %d)\r\n" % (u, n), _uid, _uid),
    st.builds(lambda u: b"* 5 FETCH (FLAGS (\\Seen) UID %d)\r\n" % u, _uid),
    st.sampled_from(
        [
            b"* 12 EXISTS\r\n",
            b"* 3 EXPUNGE\r\n",
            b"* VANISHED 1:3\r\n",
            b"* 4 FETCH\r\n",
            b"* 4 FETCH \r\n",
            b"* 6 FETCH ()\r\n",
            b"* OK [HIGHESTMODSEQ 5] still here\r\n",
            b"* NO [ALERT] careful\r\n",
            b"* FLAGS (\\Seen \\Deleted)\r\n",
            b"+ go ahead\r\n",
            b"* 7 FETCH (UID 7 BODY[] {3}\r\nab",  # the connection torn inside a literal
            b"* 7 FETCH (UID 7",  # and inside a line
            b"ABCD3 OK not ours\r\n",  # another command's tag
            b"what is this\r\n",
        ]
    ),
)
_ending = st.sampled_from(
    [
        TAG + b" OK [COPYUID 1 2 3] Fetch completed\r\n",
        TAG + b" OK done\r\n",
        TAG + b" NO [EXPUNGEISSUED] some are gone\r\n",
        TAG + b" BAD syntax\r\n",
        b"* BYE shutting down\r\n",
        b"",
    ]
)


def _imap(stream: bytes) -> Any:
    """An imaplib.IMAP4 waiting for TAG's answer, reading `stream` (no socket)."""
    imap: Any = imaplib.IMAP4.__new__(imaplib.IMAP4)
    imap.debug = 0
    imap.state = "SELECTED"
    imap.tagged_commands = {TAG: None}
    imap.untagged_responses = {}
    imap.continuation_response = ""
    imap._cmd_log_len, imap._cmd_log_idx, imap._cmd_log = 10, 0, {}
    imap._mode_ascii()
    imap.tagre = re.compile(rb"(?P<tag>ABCD\d+) (?P<type>[A-Z]+) (?P<data>.*)", re.ASCII)
    source = io.BytesIO(stream)
    imap.readline = source.readline
    imap.read = source.read
    return imap


def _outcome(run: Any) -> Any:
    try:
        return run()
    except Exception as e:
        return type(e), str(e)


@given(st.lists(_untagged, max_size=8), _ending)
def test_the_quick_reader_reads_what_imaplib_reads(lines: list[bytes], ending: bytes) -> None:
    stream = b"".join(lines) + ending
    theirs, ours = _imap(stream), _imap(stream)
    fetched: list[Any] = []

    expected = _outcome(lambda: theirs._command_complete("UID", TAG))
    got = _outcome(lambda: wire._complete(ours, "UID", TAG, fetched))

    assert got == expected
    assert fetched == theirs.untagged_responses.pop("FETCH", [])
    assert ours.untagged_responses == theirs.untagged_responses
    assert ours.tagged_commands == theirs.tagged_commands
    assert ours.continuation_response == theirs.continuation_response
