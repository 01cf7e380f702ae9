"""Inbound extraction: raw bytes in, an `Extraction` out. Pure: no sockets, files or database,
and nothing of mailcore's other layers (only `mailcore.ident` and `mailcore.errors`).

- `extract`: `extract()`, the one entry point; walks the MIME tree and finds the payload.
- `model`: what it returns: `Extraction`, `Attachment`, `PayloadSource`, `IdentifierSource`.
- `mime`: bytes -> `Message` (fast compat32 parse, MAX_PARTS) and the part helpers;
  `nesting`: mail nested deeper than the walk or the parser goes, read flat.
- `headers`: the one reading of headers (encoded words, addresses, Message-IDs, dates).
- `charsets`: bytes -> text under a missing or wrong charset label; `flowed`: RFC 3676.
- `htmltext`: HTML body -> plain text, and where a client's quote markup starts
  (`htmlquotes`: each client's markup).
- `quoting`: visible text, signature, quoted history and how sure the cut is, over
  `reply_words` (the words of 43 languages' mail clients) compiled by `reply_patterns`;
  `forwards`: a forwarded message's header and text.
- `autoreply`: the automatic-mail verdict (bounce, vacation, feedback report, receipt), with
  its records in `automatic`, read by `dsn` (RFC 3464, RFC 5965), `bounces` and `bounce_words`
  (MTAs' own sentences), `bounce_reasons` (hard/soft, why), `auto_words` (vacation subjects),
  `report_parts`, `ses`; `bounce_link` ties a bounce to the mail we sent.
- `payload`: the payload typed in the text (YAML/JSON document, key lines), budgeted parsers;
  `limits`: the budgets every payload must fit (`PayloadLimits`, `check_payload`).
- `keys`: payload key spelling; `identifier`: the record a reply is about; `identity`: the
  message key (the bytes less the trace fields servers add in transit).
"""
