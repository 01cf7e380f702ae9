"""How the console shows a mail's signature and encryption: a badge (label and tone) for the
detail page from `Extraction.security`, and one for the failed list from the failure reason
(the list reads no mail bodies; a refusal's reason is `mailcore.security.policy`'s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

SCHEMES = {"smime": "S/MIME", "openpgp": "OpenPGP"}


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # "good" | "bad"
    detail: str = ""


def signature_badge(security: Any) -> Badge | None:
    """The signature state of a mail's `Extraction.security` (None: neither signed nor
    encrypted)."""
    if security is None or not security.signed:
        return None
    scheme = SCHEMES.get(security.scheme or "", security.scheme or "")
    who = security.signer_email or security.signer or _("an unknown signer")
    detail = f"{scheme} · {security.signer or '?'}"
    if security.verified:
        return Badge(_("signed by %(who)s", who=who), "good", detail)
    if not security.valid:
        return Badge(_("signature not valid"), "bad", security.reason or detail)
    if not security.trusted:
        return Badge(_("signed by %(who)s, not trusted", who=who), "bad", security.reason or detail)
    return Badge(_("signed by %(who)s, not the sender", who=who), "bad", security.reason or detail)


def encryption_note(security: Any) -> Badge | None:
    """What was decrypted, or why it could not be."""
    if security is None or not security.encrypted:
        return None
    if security.decrypted:
        return Badge(_("decrypted"), "good", " → ".join(security.layers))
    return Badge(_("encrypted: not decrypted"), "bad", security.reason or "")


def reason_badge(reason: str | None) -> Badge | None:
    """A badge for the failed list when the failure is about the signature or encryption."""
    if not reason:
        return None
    if "requires a valid, trusted signature by the sender" in reason:
        unsigned = reason.endswith("the mail is not signed")
        return Badge(_("unsigned") if unsigned else _("bad signature"), "bad", reason)
    if reason.startswith("encrypted mail could not be decrypted"):
        return Badge(_("not decrypted"), "bad", reason)
    return None


def register(app_or_bp: Any) -> None:
    """Make the three functions template globals."""
    for func in (signature_badge, encryption_note, reason_badge):
        app_or_bp.add_app_template_global(func)
