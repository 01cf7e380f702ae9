"""`IngressSettings`: the ``[ingress]`` table of the settings file, and its secrets.

    [ingress]
    max_size = 52428800        # bytes a pushed message may have (default 50 MiB)
    max_age = 300              # seconds a signed request's timestamp may be old
    timeout = 600              # seconds `mailcore ingest` may take before it answers 75

Secrets are best given only in the environment, ``MAILCORE_INGRESS_<KEY>`` (the environment
wins over the file, as for every table): ``MIME_TOKEN`` (bearer token of POST /ingress/mime),
``MIME_HMAC_KEY`` (its HMAC signatures), ``POSTMARK_PASSWORD`` (with ``POSTMARK_USERNAME``,
default "mailcore"), ``MAILGUN_SIGNING_KEY``, ``SENDGRID_PASSWORD`` (with
``SENDGRID_USERNAME``) and ``SENDGRID_PUBLIC_KEY`` (the signature policy's public key). An
endpoint whose secret is unset is off (404). No secret is ever part of a repr or a message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailcore.errors import ConfigError

__all__ = ["IngressSettings"]

_NUMBERS = {"max_size": (1024, 1 << 34), "max_age": (1, 86_400), "timeout": (1, 3600)}


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True)
class IngressSettings:
    """Limits and per-endpoint secrets of push ingress (see the module docstring)."""

    max_size: int = 50 * 1024 * 1024
    max_age: int = 300
    timeout: int = 600
    mime_token: str | None = _secret()
    mime_hmac_key: str | None = _secret()
    postmark_username: str = "mailcore"
    postmark_password: str | None = _secret()
    mailgun_signing_key: str | None = _secret()
    sendgrid_username: str = "mailcore"
    sendgrid_password: str | None = _secret()
    sendgrid_public_key: str | None = _secret()

    @classmethod
    def from_section(cls, table: Mapping[str, Any], where: str = "settings") -> IngressSettings:
        """From the ``[ingress]`` table (environment overrides already applied, as
        `Settings.section` gives it); ConfigError naming a wrong key or value."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(unknown)} in [ingress] of {where};"
                f" known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key in _NUMBERS:
                values[key] = _number(key, value, where)
            elif value is None or str(value).strip() == "":
                continue
            else:
                values[key] = str(value).strip()
        return cls(**values)

    @classmethod
    def from_settings(cls, settings: Any) -> IngressSettings:
        """From a `mailcore.config.Settings`."""
        return cls.from_section(settings.section("ingress"), settings.source or "settings")


def _number(key: str, value: Any, where: str) -> int:
    low, high = _NUMBERS[key]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"ingress.{key} in {where} must be a whole number") from None
    if not low <= number <= high:
        raise ConfigError(f"ingress.{key} in {where} must be between {low} and {high}")
    return number
