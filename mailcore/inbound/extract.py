"""Inbound mail -> everything a handler needs: payload, visible text, attachments, identifier.

`extract` is pure (bytes in, `Extraction` out) and never raises: what is wrong with a message is
reported in `Extraction.defects`. It is on the hot path of every poll, so it parses with the
fast compat32 policy, decodes only the headers it needs, converts HTML only when there is no
text/plain part and leaves attachment bytes encoded until `Attachment.data()` is called.
"""

from __future__ import annotations

import email
import logging
from email.message import Message
from functools import partial
from typing import Any

from mailcore.ident import DEFAULT_SCHEME, IdentScheme
from mailcore.inbound import mime, nesting
from mailcore.inbound.autoreply import read_automatic
from mailcore.inbound.bounce_link import linked_identifier
from mailcore.inbound.charsets import decode_text
from mailcore.inbound.flowed import unflow_part
from mailcore.inbound.headers import (
    EMPTY_HEADERS,
    Headers,
    header_block,
    raw_headers,
    read_headers,
)
from mailcore.inbound.htmltext import QuoteStart, html_to_text
from mailcore.inbound.identifier import bounced_identifier, find_identifier
from mailcore.inbound.keys import apply_aliases, normalize_key, normalize_keys
from mailcore.inbound.mime import MAX_PARTS
from mailcore.inbound.model import Attachment, Extraction, IdentifierSource, PayloadSource
from mailcore.inbound.payload import PayloadTooLarge, document_payload, key_lines_payload, load_json
from mailcore.inbound.quoting import split_reply

__all__ = [
    "Attachment",
    "Extraction",
    "Headers",
    "IdentifierSource",
    "MAX_PARTS",
    "PayloadSource",
    "apply_aliases",
    "extract",
    "normalize_key",
]

logger = logging.getLogger(__name__)

# Deeper than any real mail (mixed > alternative > related is 3): below it parts are read flat.
_MAX_DEPTH = 50


def extract(raw: bytes, *, scheme: IdentScheme = DEFAULT_SCHEME) -> Extraction:
    """Parse one raw message; never raises (problems are listed in `defects`)."""
    try:
        return _Extractor(raw, scheme).run()
    except RecursionError:  # the stdlib parser nests one generator per level
        try:
            return _Extractor(raw, scheme, flat=True).run()
        except RecursionError:
            return _failed(raw, scheme, "message nested too deeply to parse")
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"; see defects
        logger.exception("extract failed on a %d-byte message", len(raw))
        return _failed(raw, scheme, f"extraction failed: {type(exc).__name__}: {exc}")


def _failed(raw: bytes, scheme: IdentScheme, reason: str) -> Extraction:
    headers = EMPTY_HEADERS
    defects = [reason]
    try:  # the headers only: parsing the whole again is what just failed
        msg = email.message_from_bytes(header_block(raw))
        headers = read_headers(raw_headers(msg), defects)
    except Exception:  # noqa: BLE001 - best effort only; the reason is already recorded
        pass
    identifier, source = find_identifier(headers, scheme)
    return Extraction(
        headers=headers,
        payload=None,
        payload_source=PayloadSource.NONE,
        text="",
        signature="",
        quoted="",
        html=None,
        text_from_html=False,
        attachments=[],
        identifier=identifier,
        identifier_source=source,
        auto_reply=False,
        auto_reply_reason=None,
        defects=defects,
    )


_TEXT_BODY = frozenset({"text/plain", "text/html"})
_BOUNCE_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ENCRYPTED = frozenset({"application/pgp-encrypted", "application/x-pkcs7-mime"})
_RETURNED_HEADERS = frozenset({"text/rfc822-headers", "message/rfc822", "message/global"})


class _Extractor:
    def __init__(self, raw: bytes, scheme: IdentScheme, *, flat: bool = False) -> None:
        self.raw = raw
        self.scheme = scheme
        self.flat = flat  # read as one level of parts: the parser could not nest it
        self.defects: list[str] = []
        self.plain: list[str] = []
        self.html_parts: list[str] = []
        self.json_parts: list[Message] = []
        self.attachments: list[Attachment] = []
        self.has_dsn = False
        self.returned: Message | None = None  # the bounced message (headers) in a DSN

    def run(self) -> Extraction:
        raw = mime.within_parts(self.raw, self.defects)
        if self.flat:
            self.defects.append(
                "MIME nesting too deep for the parser: its parts are read as one level"
            )
        msg = nesting.flat_parse(raw) if self.flat else mime.parse(raw)
        found = raw_headers(msg)
        headers = read_headers(found, self.defects)
        self._walk(msg, "message", depth=0)

        html = self.html_parts[0] if self.html_parts else None
        text_from_html = False
        quote = QuoteStart()  # where the HTML's quote markup starts, if the text comes from it
        if any(p.strip() for p in self.plain) or (self.plain and not self.html_parts):
            full_text = "\n".join(self.plain)
        elif self.html_parts:
            full_text = html_to_text(self.html_parts[0], quote_start=quote) + "".join(
                "\n\n" + html_to_text(h) for h in self.html_parts[1:]
            )
            text_from_html = True
        else:
            full_text = ""
        reply = split_reply(full_text, html_cut=quote.cut())
        visible = reply.visible
        if not visible and reply.forwarded is not None:  # a bare forward: read what it passed on
            visible = split_reply(reply.forwarded.text).visible

        payload, source = self._payload(visible)
        identifier, id_source = find_identifier(headers, self.scheme)
        if identifier is None and self.has_dsn and self.returned is not None:
            identifier, id_source = bounced_identifier(self.returned)
        auto = read_automatic(msg, found, headers, self.has_dsn, self.scheme)
        if identifier is None and auto.kind is not None:
            identifier, id_source = linked_identifier(
                auto.bounce or auto.feedback, headers, self.scheme
            )
        return Extraction(
            headers=headers,
            payload=payload,
            payload_source=source,
            text=reply.visible,
            signature=reply.signature,
            quoted=reply.quoted,
            html=html,
            text_from_html=text_from_html,
            attachments=self.attachments,
            identifier=identifier,
            identifier_source=id_source,
            auto_reply=auto.kind is not None,
            auto_reply_reason=auto.reason,
            defects=self.defects,
            reply_confidence=reply.confidence,
            reply_confidence_reason=reply.reason,
            forwarded=reply.forwarded,
            auto_kind=auto.kind,
            bounce=auto.bounce,
            feedback=auto.feedback,
        )

    # -- MIME tree ---------------------------------------------------------------------------

    def _walk(
        self, part: Message, where: str, depth: int, boundaries: tuple[str, ...] = ()
    ) -> None:
        self._note_defects(part, where)
        if depth > _MAX_DEPTH:
            self.defects.append(
                f"{where}: MIME nesting deeper than {_MAX_DEPTH} levels; the parts below are"
                " read as one level"
            )
            for k, leaf in enumerate(nesting.leaves(part), 1):
                if leaf.get_content_maintype() == "multipart":  # unsplit: no recovery down there
                    self.plain.append(self._decode_text(leaf, where))
                else:
                    self._walk(leaf, f"{where}/.../{k}", _MAX_DEPTH, boundaries)
            return
        ctype = part.get_content_type()
        if ctype in _BOUNCE_TYPES:
            self.has_dsn = True
        elif ctype in _RETURNED_HEADERS and self.returned is None:
            self.returned = part
        if part.get_content_maintype() == "multipart":
            boundary = part.get_boundary()
            if boundary is not None and boundary in boundaries:
                # The parser ends the enclosing part at the first "--boundary--": what follows
                # (an attachment, often) is not in the tree at all.
                self.defects.append(
                    f"{where}: reuses the boundary {boundary!r} of an enclosing part; parts after"
                    " it may be missing (attachments included)"
                )
            elif boundary is not None:
                boundaries = (*boundaries, boundary)
        if part.is_multipart():
            if part.get_content_maintype() == "message" and _attached(part):
                # An attached mail is listed as the sender attached it, and still read for
                # its text (a request forwarded as an attachment is found there).
                name = mime.filename(part, self.defects, where)
                self.attachments.append(
                    self._attachment(part, ctype, name, mime.disposition(part), where)
                )
            payload = part.get_payload()
            if isinstance(payload, list):
                for k, sub in enumerate(payload, 1):
                    if isinstance(sub, Message):
                        name = f"{where}/{k}" if where != "message" else f"part {k}"
                        self._walk(sub, name, depth + 1, boundaries)
            return
        if part.get_content_maintype() == "multipart":
            # The parser could not split it (no or wrong boundary): guess the boundary from
            # the body, else read the body as text so the sender's words are not lost.
            recovered = mime.recover_multipart(part)
            if recovered is not None:
                self.defects.append(
                    f"{where}: multipart boundary recovered from the body"
                    f" ({recovered.get_boundary()!r})"
                )
                self._walk(recovered, where, depth + 1, boundaries)
            else:
                self.defects.append(f"{where}: unsplittable multipart body read as plain text")
                self.plain.append(self._decode_text(part, where))
            return
        disposition = mime.disposition(part)
        filename = mime.filename(part, self.defects, where)
        if ctype in _TEXT_BODY and disposition != "attachment" and filename is None:
            text = self._decode_text(part, where)
            if ctype == "text/plain":
                self.plain.append(unflow_part(text, part) if text else text)
            else:
                self.html_parts.append(text)
            return
        if ctype in _ENCRYPTED or (ctype == "application/pkcs7-mime" and mime.enveloped(part)):
            self.defects.append(f"{where}: encrypted content ({ctype}) cannot be read")
        if ctype == "application/json" or (
            ctype == "text/json" or (filename or "").lower().endswith(".json")
        ):
            self.json_parts.append(part)
        self.attachments.append(self._attachment(part, ctype, filename, disposition, where))

    def _note_defects(self, part: Message, where: str) -> None:
        for defect in getattr(part, "defects", ()):
            self.defects.append(f"{where}: {mime.describe_defect(defect)}")

    def _decode_text(self, part: Message, where: str) -> str:
        known = len(getattr(part, "defects", ()))
        data = mime.payload_bytes(part)
        # Decoding registers new defects (bad base64 padding...) on the part itself.
        for defect in getattr(part, "defects", ())[known:]:
            self.defects.append(f"{where}: {mime.describe_defect(defect)}")
        text, problem = decode_text(data, part.get_content_charset())
        if problem:
            self.defects.append(f"{where}: {problem}")
        return text.lstrip("\ufeff")

    def _attachment(
        self, part: Message, ctype: str, filename: str | None, disposition: str | None, where: str
    ) -> Attachment:
        content_id = part.get("Content-ID")
        cid = str(content_id).strip().strip("<>").strip() or None if content_id else None
        inline = disposition == "inline" or (disposition is None and cid is not None)
        if ctype == "message/rfc822" or part.get_content_maintype() == "message":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None

            if isinstance(inner_msg, Message):
                data = mime.as_bytes(inner_msg)
            else:
                data = mime.payload_bytes(part)
            return Attachment(filename, ctype, len(data), cid, inline, partial(bytes, data))
        return Attachment(
            filename=filename,
            content_type=ctype,
            size=mime.encoded_size(part),
            content_id=cid,
            inline=inline,
            _loader=partial(mime.payload_bytes, part),
        )

    # -- payload -----------------------------------------------------------------------------

    def _payload(self, visible: str) -> tuple[dict[str, Any] | None, PayloadSource]:
        try:
            return self._find_payload(visible)
        except PayloadTooLarge as exc:  # refused, not missing: no weaker source is tried
            self.defects.insert(0, str(exc))  # first, so the failure reason names the limit
            return None, PayloadSource.OVER_LIMITS

    def _find_payload(self, visible: str) -> tuple[dict[str, Any] | None, PayloadSource]:
        for part in self.json_parts:
            data = mime.payload_bytes(part)
            text, problem = decode_text(data, part.get_content_charset() or "utf-8")
            if problem:
                self.defects.append(f"JSON part: {problem}")
            try:
                value = load_json(text)
            except ValueError as exc:
                self.defects.append(f"JSON part is not valid JSON: {exc}")
                continue
            if isinstance(value, dict):
                return self._normalized(value), PayloadSource.JSON_PART
            self.defects.append(f"JSON part holds a {type(value).__name__}, not an object")
        if not visible:
            return None, PayloadSource.NONE
        found, problem = document_payload(visible)
        if found is not None:
            return self._normalized(found), PayloadSource.TEXT_DOCUMENT
        if problem:
            self.defects.append(problem)
        lines = key_lines_payload(visible)
        if lines:
            return self._normalized(lines), PayloadSource.KEY_LINES
        return None, PayloadSource.NONE

    def _normalized(self, payload: dict[Any, Any]) -> dict[str, Any] | None:
        normalized, problems = normalize_keys(payload)
        self.defects.extend(problems)
        return normalized or None


def _attached(part: Message) -> bool:
    """Whether a message/* part is an attachment (by its disposition or a file name)."""
    return mime.disposition(part) == "attachment" or bool(part.get_param("name"))
