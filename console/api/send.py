"""POST /api/v1/send: a stored template, data, recipients and an identifier in; the mail
composed (JSON + text + HTML), signed where configured, sent, filed in Sent and recorded in the
history (console.template_sending.send_template, as `mailcore send`); its Message-ID out."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from console.api.auth import actor, require
from console.api.errors import ApiError, blueprint
from console.api.schemas import Strict
from console.template_sending import send_template
from mailcore.errors import ConfigError, MailcoreError, TemplateError

blp = blueprint("api_send", __name__, url_prefix="/api/v1/send", description="Send (operator)")


class SendIn(Strict):
    template = f.String(required=True, validate=v.Length(min=1, max=64))
    data = f.Dict(required=True)
    to = f.List(f.Email(), required=True, validate=v.Length(min=1, max=50))
    identifier = f.String(required=True, validate=v.Length(min=1, max=200))
    language = f.String(validate=v.Length(min=2, max=35))


class SentOut(ma.Schema):
    message_id = f.String(required=True)


@blp.post("")
@require("operator")
@blp.arguments(SendIn)
@blp.response(201, SentOut)
def send(body: dict[str, Any]) -> dict[str, Any]:
    """Compose a stored template's latest version on `data` and send it to `to`."""
    try:
        message_id = send_template(body["template"], body["data"], body["to"],
                                   body["identifier"], actor(), body.get("language"))  # fmt: skip
    except ConfigError as exc:
        raise ApiError(503, str(exc), code="not_configured") from None
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except (TemplateError, ValueError) as exc:
        raise ApiError(422, str(exc), code="not_composed") from None
    except MailcoreError as exc:
        raise ApiError(502, str(exc), code="not_sent") from None
    return {"message_id": message_id}
