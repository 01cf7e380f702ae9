"""The API's one error shape, ``{"error": {"code", "message", "fields"?}}``, for every error
of /api/v1 (HTTP errors, webargs' 422, the rate limit's 429), and its schema for the document.

`code` is a stable word for programs (``not_found``, ``invalid``, ``forbidden``...), `message`
a sentence for people, `fields` the problems of the request's fields by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

# HTTP status -> the error's code when the view gave none.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    502: "upstream_failed",
    503: "unavailable",
}


class ErrorBody(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "A stable word for programs"})
    message = ma.fields.String(required=True, metadata={"description": "What to do, for people"})
    field_problems = ma.fields.Dict(
        data_key="fields",
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Problems of the request's fields, by field (JSON path)"},
    )


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBody, required=True)


class ApiError(HTTPException):
    """An error a view raises with its own code, message and field problems."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = status
        self.error_code = code or CODES.get(status, "error")
        self.fields = dict(fields) if fields else None
        self.extra_headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = dict(fields)
    response = jsonify({"error": body})
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def handle(err: HTTPException) -> Response:
    """Any HTTP error raised on /api/v1 as the one shape."""
    status = err.code or 500
    if isinstance(err, ApiError):
        return error_response(status, err.error_code, str(err.description), err.fields,
                              err.extra_headers)  # fmt: skip
    data = getattr(err, "data", None) or {}
    fields = flatten(data.get("messages") or data.get("errors") or {})
    message = data.get("message") or _description(err, status, fields)
    headers = dict(data.get("headers") or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="mailcore"')
    return error_response(status, CODES.get(status, "error"), message, fields or None, headers)


def _description(err: HTTPException, status: int, fields: dict[str, list[str]]) -> str:
    if status == 422 and fields:
        return "The request's fields are not valid: see fields."
    if status == 429:
        return f"Too many requests for this token ({err.description}): retry after Retry-After."
    return str(err.description or "error")


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs' nested {"json": {"payload": ["..."]}} as {"payload": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in ("json", "query", "form", "headers", "view_args"):
                name = ""
            out |= flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
    elif isinstance(messages, list | tuple):
        texts = [str(m) for m in messages if not isinstance(m, Mapping | list)]
        if texts:
            out[prefix or "_"] = texts
        for m in messages:
            if isinstance(m, Mapping | list):
                out |= flatten(m, prefix)
    else:
        out[prefix or "_"] = [str(messages)]
    return out


def blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Any:
    """A flask-smorest Blueprint of the API, answering its errors in the one shape."""
    from flask_smorest import Blueprint

    blp = Blueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.register_error_handler(HTTPException, handle)
    # Flask tries handlers of the status code first, the app's too (the console's HTML 403
    # and 404): the blueprint's must be registered by code as well.
    for status in CODES:
        blp.register_error_handler(status, handle)
    return blp


def within(number: int, limit: int, what: str) -> int:
    """A path's number, 404 beyond what can name anything (a database integer overflows)."""
    if not 0 < number < limit:
        raise ApiError(404, f"no {what} {number}")
    return number
