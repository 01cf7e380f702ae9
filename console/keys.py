"""Certificates and keys for admins: list (who, addresses, fingerprint, expiry, trust, whether
a private key is held), import (a PEM certificate, with its private key for ours, or an
armored OpenPGP key), remove. Private keys are stored encrypted and never shown; imports and
removals are logged by fingerprint only."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from console import signatures
from console.roles import role_required
from console.services import secret_key_without_settings, services
from mailcore import KeyStore, MailcoreError, key_store, read_keys

log = logging.getLogger(__name__)

bp = Blueprint("keys", __name__, url_prefix="/admin/keys")
signatures.register(bp)  # the signature badges of the failed list and the detail page

MAX_UPLOAD = 1024 * 1024


def store() -> KeyStore:
    """The key store in the history database, with the secret key private keys are
    encrypted with ($MAILCORE_SECRET_KEY or [console] secret_key; the app's in tests)."""
    svc = services()
    if svc.settings is not None:
        return key_store(svc.settings, svc.history.engine)
    return KeyStore(svc.history.engine, secret_key_without_settings())


def _page(status: int = 200, **extra: Any) -> ResponseReturnValue:
    return render_template("admin/keys.html", keys=store().list(), **extra), status


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/import")
@role_required("admin")
def import_key() -> ResponseReturnValue:
    upload = request.files.get("file")
    data = upload.read(MAX_UPLOAD + 1) if upload else b""
    data = data or request.form.get("text", "").encode()[: MAX_UPLOAD + 1]
    if not data.strip():
        return _page(400, error=_("Choose a key file or paste the key."))
    try:
        added = [store().add(k, str(current_user.username)) for k in
                 read_keys(data, trusted=request.form.get("trusted") == "1")]  # fmt: skip
    except MailcoreError as exc:
        return _page(400, error=str(exc))
    for key in added:
        log.info("key %s imported by %s", key.fingerprint, current_user.username)
        flash(_("Imported %(label)s (%(fpr)s).", label=key.label, fpr=key.fingerprint))
    return redirect(url_for("keys.index"))


@bp.post("/<fingerprint>/remove")
@role_required("admin")
def remove(fingerprint: str) -> ResponseReturnValue:
    try:
        gone = store().remove(fingerprint)
    except MailcoreError as exc:
        return _page(404, error=str(exc))
    log.info("key %s removed by %s", gone.fingerprint, current_user.username)
    flash(_("Removed %(label)s (%(fpr)s).", label=gone.label, fpr=gone.fingerprint))
    return redirect(url_for("keys.index"))
