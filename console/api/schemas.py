"""The marshmallow schemas of /api/v1's requests and answers (the document is made from them)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

MAX_PAGE = 10_000
MAX_PER_PAGE = 200
NOTE = v.Length(min=1, max=2000)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class PageArgs(Strict):
    page = f.Integer(load_default=1, validate=v.Range(1, MAX_PAGE))
    per_page = f.Integer(load_default=50, validate=v.Range(1, MAX_PER_PAGE))


class ListArgs(PageArgs):
    sender = f.String(validate=v.Length(max=200))
    reason = f.String(validate=v.Length(max=200))
    handler = f.String(validate=v.Length(max=200))
    mailbox = f.String(validate=v.Length(max=200), metadata={"description": "Configured name"})


class MailboxArg(Strict):
    mailbox = f.String(validate=v.Length(max=200), metadata={"description": "Configured name"})


class SchemaErrorOut(ma.Schema):
    path = f.String(required=True)
    kind = f.String(required=True)
    message = f.String(required=True)


class ListedMail(ma.Schema):
    uid = f.Integer(required=True)
    mailbox = f.String(required=True)
    subject = f.String(required=True)
    sender = f.String(required=True)
    date = f.DateTime(allow_none=True)
    size = f.Integer()
    message_id = f.String(allow_none=True)
    handler = f.String(allow_none=True)
    reason = f.String(allow_none=True)
    failure = f.String(
        allow_none=True, metadata={"description": "a FailureKind; null on older rows"}
    )


class MailPage(ma.Schema):
    items = f.List(f.Nested(ListedMail), required=True)
    total = f.Integer(required=True)
    page = f.Integer(required=True)
    per_page = f.Integer(required=True)
    pages = f.Integer(required=True)


class EventOut(ma.Schema):
    id = f.Integer(required=True)
    at = f.DateTime(required=True)
    kind = f.String(required=True)
    actor = f.String(required=True)
    message_key = f.String(allow_none=True)
    status = f.String(allow_none=True)
    handler = f.String(allow_none=True)
    sender = f.String(allow_none=True)
    subject = f.String(allow_none=True)
    identifier = f.String(allow_none=True)
    folder = f.String(allow_none=True)
    uid = f.Integer(allow_none=True)
    reason = f.String(allow_none=True)
    mailbox = f.String(allow_none=True)
    before = f.Dict(allow_none=True)
    after = f.Dict(allow_none=True)


class MailDetail(ma.Schema):
    uid = f.Integer(required=True)
    folder = f.String(required=True)
    message_key = f.String(required=True)
    handler = f.String(allow_none=True)
    reason = f.String(allow_none=True)
    failure = f.String(
        allow_none=True, metadata={"description": "a FailureKind; null on older rows"}
    )
    identifier = f.String(allow_none=True)
    payload = f.Dict(allow_none=True)
    errors = f.List(f.Nested(SchemaErrorOut), required=True)
    extraction = f.Dict(required=True, metadata={"description": "Extraction.to_json()"})
    timeline = f.List(f.Nested(EventOut), required=True)


class ValidateIn(Strict):
    payload = f.Dict(required=True)
    handler = f.String(validate=v.Length(min=1, max=200))


class ResubmitIn(ValidateIn):
    identifier = f.String(validate=v.Length(min=1, max=200))


class ValidationOut(ma.Schema):
    valid = f.Boolean(required=True)
    errors = f.List(f.Nested(SchemaErrorOut), required=True)


class OutcomeOut(ma.Schema):
    uid = f.Integer(required=True)
    status = f.String(required=True)
    handler = f.String(allow_none=True)
    reason = f.String(allow_none=True)
    new_uid = f.Integer(allow_none=True)
    errors = f.List(f.Nested(SchemaErrorOut), required=True)


class BulkRerunIn(Strict):
    uids = f.List(f.Integer(validate=v.Range(1, 2**32 - 1)), required=True,
                  validate=v.Length(min=1, max=500))  # fmt: skip
    mailbox = f.String(validate=v.Length(max=200))


class OutcomesOut(ma.Schema):
    outcomes = f.List(f.Nested(OutcomeOut), required=True)


class NoteIn(Strict):
    note = f.String(required=True, validate=NOTE)


class TodayRow(ma.Schema):
    message_key = f.String(required=True)
    status = f.String(allow_none=True)
    folder = f.String(allow_none=True)
    subject = f.String(allow_none=True)
    steps = f.List(f.Nested(EventOut), required=True)


class TodayOut(ma.Schema):
    rows = f.List(f.Nested(TodayRow), required=True)
    truncated = f.Boolean(required=True)
