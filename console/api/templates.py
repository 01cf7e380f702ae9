"""/api/v1/templates: the authors' templates -- list, versions, preview a render, save a
version, restore one -- over the editor's functions (console.authoring.save_version,
console.template_preview.evaluate) and the TemplateStore."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from console.api.auth import actor, require
from console.api.errors import ApiError, blueprint, within
from console.api.schemas import Strict
from console.authoring import SaveRefused, save_version
from console.services import services
from console.template_preview import evaluate
from mailcore import TemplateHasErrors, TemplateStore, UnknownTemplate

blp = blueprint(
    "api_templates", __name__, url_prefix="/api/v1/templates", description="Templates (author)"
)
TEXT = v.Length(max=100_000)


class Variant(Strict):
    subject = f.String(required=True, validate=v.Length(max=998))
    body = f.String(required=True, validate=TEXT)


class Draft(Strict):
    subject = f.String(required=True, validate=v.Length(min=1, max=998))
    body = f.String(required=True, validate=TEXT)
    sample_data = f.Dict(load_default=dict)
    variants = f.Dict(
        keys=f.String(validate=v.Length(max=35)),
        values=f.Nested(Variant),
        load_default=dict,
        metadata={"description": "language tag -> text"},
    )


class PreviewIn(Draft):
    language = f.String(load_default="", validate=v.Length(max=35))


class SaveIn(Draft):
    note = f.String(load_default="", validate=v.Length(max=2000))
    handler = f.String(allow_none=True, load_default=None, validate=v.Length(max=200))
    base = f.Integer(
        allow_none=True,
        load_default=None,
        validate=v.Range(0, 2**31 - 1),
        metadata={"description": "The version edited (0: a new template)"},
    )


class ProblemOut(ma.Schema):
    line = f.Integer(allow_none=True)
    message = f.String(required=True)
    kind = f.String(required=True)
    source = f.String(required=True)


class PreviewOut(ma.Schema):
    ok = f.Boolean(required=True)
    language = f.String(required=True)
    subject = f.String(allow_none=True)
    text = f.String(allow_none=True)
    html = f.String(allow_none=True)
    json = f.String(allow_none=True)
    problems = f.List(f.Nested(ProblemOut), required=True)


class VersionOut(ma.Schema):
    name = f.String(required=True)
    number = f.Integer(required=True)
    subject = f.String(required=True)
    body = f.String(required=True)
    sample_data = f.Dict(required=True)
    note = f.String(required=True)
    by = f.String(required=True)
    at = f.DateTime(required=True)
    handler = f.String(allow_none=True)
    restored_from = f.Integer(allow_none=True)
    variants = f.Dict(keys=f.String(), values=f.Nested(Variant), required=True)


class SummaryOut(ma.Schema):
    name = f.String(required=True)
    versions = f.Integer(required=True)
    latest = f.Nested(VersionOut, required=True)


class TemplatesOut(ma.Schema):
    templates = f.List(f.Nested(SummaryOut), required=True)


class VersionsOut(ma.Schema):
    versions = f.List(f.Nested(VersionOut), required=True)


NAME = {"in": "path", "name": "name", "required": True,
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"}}  # fmt: skip


def _store() -> TemplateStore:
    store = services().templates
    if store is None:
        raise ApiError(503, "This console has no template store.")
    return store


def version_json(version: Any) -> dict[str, Any]:
    out = {k: getattr(version, k) for k in VersionOut._declared_fields if k != "variants"}
    out["variants"] = {t: {"subject": s, "body": b} for t, (s, b) in version.variants.items()}
    return out


def _variants(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {tag: (x["subject"], x["body"]) for tag, x in body["variants"].items()}


def _problems(problems: Any) -> list[dict[str, Any]]:
    return [{"line": p.line, "message": p.message, "kind": str(p.kind), "source": p.source}
            for p in problems or []]  # fmt: skip


@blp.get("/")
@require("author")
@blp.response(200, TemplatesOut)
def index() -> dict[str, Any]:
    """Every template with its latest version."""
    return {"templates": [{"name": s.name, "versions": s.count, "latest": version_json(s.latest)}
                          for s in _store().summaries()]}  # fmt: skip


@blp.route("/<name>/versions", parameters=[NAME])
@require("author")
@blp.response(200, VersionsOut)
def versions(name: str) -> dict[str, Any]:
    """Every version of a template, newest first."""
    found = _store().versions(name)
    if not found:
        raise ApiError(404, f"no template {name!r}")
    return {"versions": [version_json(x) for x in found]}


@blp.route("/<name>/versions/<int:number>", parameters=[NAME])
@require("author")
@blp.response(200, VersionOut)
def version(name: str, number: int) -> dict[str, Any]:
    """One saved version."""
    try:
        return version_json(_store().get(name, within(number, 2**31, "version")))
    except UnknownTemplate as exc:
        raise ApiError(404, str(exc)) from None


@blp.route("/<name>/preview", methods=["POST"], parameters=[NAME])
@require("author")
@blp.arguments(PreviewIn)
@blp.response(200, PreviewOut)
def preview(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Render a draft on its sample data (nothing saved): the mail's parts and every
    problem, in every language."""
    ev = evaluate(name, body["subject"], body["body"], json.dumps(body["sample_data"]),
                  _variants(body), body["language"])  # fmt: skip
    p = ev.preview
    return {
        "ok": not ev.problems, "language": ev.shown, "problems": _problems(ev.problems),
        "subject": p.subject if p else None, "text": p.text if p else None,
        "html": p.html if p else None, "json": p.json if p else None,
    }  # fmt: skip


@blp.route("/<name>", methods=["POST"], parameters=[NAME])
@require("author")
@blp.arguments(SaveIn)
@blp.response(201, VersionOut)
def save(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Save a new version (only if it renders cleanly: else 422 with the problems)."""
    try:
        saved = save_version(
            name, body["subject"], body["body"], json.dumps(body["sample_data"]),
            body["note"].strip(), actor(), handler=body["handler"], base=body["base"],
            variants=_variants(body),
        )  # fmt: skip
    except SaveRefused as e:
        fields = {e.field or "template": [e.message]}
        for p in e.problems or []:
            fields.setdefault(p.source, []).append(p.message)
        raise ApiError(e.status, e.message, code="not_saved", fields=fields) from None
    return version_json(saved)


@blp.route("/<name>/versions/<int:number>/restore", methods=["POST"], parameters=[NAME])
@require("author")
@blp.response(201, VersionOut)
def restore(name: str, number: int) -> dict[str, Any]:
    """Make an old version current again, as a new version."""
    try:
        restored = _store().restore(name, within(number, 2**31, "version"), by=actor())
        return version_json(restored)
    except UnknownTemplate as exc:
        raise ApiError(404, str(exc)) from None
    except TemplateHasErrors as exc:
        raise ApiError(422, str(exc), code="not_restored") from None
