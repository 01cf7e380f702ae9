"""Inbound extraction: raw bytes in, an `Extraction` out. Pure: no sockets, files or database,
and nothing of mailcore's other layers (only `mailcore.ident` and `mailcore.errors`).

- `extract`: `extract()`, the one entry point; walks the MIME tree and finds the payload.
- `model`: what it returns: `Extraction`, `Attachment`, `PayloadSource`, `IdentifierSource`.
- `mime`: bytes -> `Message` (fast compat32 parse, MAX_PARTS) and the part helpers.
- `headers`: the one reading of headers (encoded words, addresses, Message-IDs, dates).
- `charsets`: bytes -> text under a missing or wrong charset label.
- `htmltext`: HTML body -> plain text; `quoting`: visible text, signature, quoted history.
- `payload`: the payload typed in the text (YAML/JSON document, key lines), budgeted parsers.
- `limits`: the budgets every payload must fit (`PayloadLimits`, `check_payload`).
- `keys`: payload key spelling; `identifier`: the record a reply is about;
  `autoreply`: bounces, receipts and out-of-office replies.
"""
