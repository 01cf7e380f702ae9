"""Resource identifiers carried by outbound mail and found again in replies.

One module owns the three formats so that composing and extracting cannot drift apart:
- Reply-To subaddress: ``reply+<id>@example.com`` (local part and separator configurable);
- subject tag: ``[<id>] Subject``;
- Message-IDs: ``<mc.<id>.<token>@domain>``, thread root ``<mc.<id>.thread@domain>``;
- VERP envelope sender: ``bounce+<id>.<token>@domain`` (the Message-ID's id and token), so a
  bounce names the mail it returns even when it quotes none of it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

# Short, mail-safe ids: they travel in local parts, subjects and Message-IDs.
ID_RE = r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}"
_ID_FULL = re.compile(rf"^{ID_RE}$")
# "[VEH-1234]" anywhere in a subject
_SUBJECT_TAG = re.compile(rf"\[({ID_RE})\]")
# our Message-IDs: <mc.ID.TOKEN@domain>, found in References / In-Reply-To or alone
_MSGID = re.compile(rf"<mc\.({ID_RE})\.[A-Za-z0-9]+@[^>\s]+>")
_MSGID_PARTS = re.compile(rf"<mc\.({ID_RE})\.([A-Za-z0-9]{{1,32}})@[^>\s]+>$")
# the ID.TOKEN of a VERP bounce address, bounce+ID.TOKEN@domain
_VERP_TOKEN = re.compile(rf"({ID_RE})\.([A-Za-z0-9]{{1,32}})$")


@dataclass(frozen=True)
class IdentScheme:
    """How identifiers are written; the defaults are what `compose` and `extract` use."""

    local_part: str = "reply"
    separator: str = "+"
    domain: str = "example.com"
    bounce_local_part: str = "bounce"  # VERP envelope sender: bounce+<id>.<token>@domain

    def reply_address(self, resource_id: str) -> str:
        return f"{self.local_part}{self.separator}{check_id(resource_id)}@{self.domain}"

    def bounce_address(self, message_id: str) -> str | None:
        """VERP envelope sender ``bounce+<id>.<token>@domain`` for one of our Message-IDs."""
        found = _MSGID_PARTS.match(message_id.strip())
        if found is None:
            return None
        return f"{self.bounce_local_part}+{found.group(1)}.{found.group(2)}@{self.domain}"

    def from_bounce_address(self, address: str) -> tuple[str, str] | None:
        """(id, our Message-ID) from ``bounce+<id>.<token>@domain``, whatever the case."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        prefix = self.bounce_local_part + "+"
        if not domain or not local.lower().startswith(prefix.lower()):
            return None
        found = _VERP_TOKEN.match(local[len(prefix) :])
        if found is None:
            return None
        return found.group(1), f"<mc.{found.group(1)}.{found.group(2).lower()}@{domain}>"

    def from_address(self, address: str) -> str | None:
        """The id in ``reply+<id>@domain``, whatever the domain and case of the local part."""
        local = address.strip().strip("<>").rsplit("@", 1)[0]
        prefix = self.local_part + self.separator
        if not local.lower().startswith(prefix.lower()):
            return None
        candidate = local[len(prefix) :]
        return candidate if _ID_FULL.match(candidate) else None


DEFAULT_SCHEME = IdentScheme()


def check_id(resource_id: str) -> str:
    """Return the id unchanged, or raise ValueError saying what a valid id looks like."""
    if not _ID_FULL.match(resource_id):
        raise ValueError(
            f"invalid resource id {resource_id!r}: use 3-64 letters, digits, '-' or '_',"
            " starting with a letter or digit"
        )
    return resource_id


def subject_tag(resource_id: str) -> str:
    return f"[{check_id(resource_id)}]"


def tagged_subject(resource_id: str, subject: str) -> str:
    """Subject with the tag in front, once, however many times it is replied to."""
    tag = subject_tag(resource_id)
    return subject if tag in subject else f"{tag} {subject}"


def from_subject(subject: str) -> str | None:
    m = _SUBJECT_TAG.search(subject or "")
    return m.group(1) if m else None


def new_message_id(resource_id: str, domain: str) -> str:
    return f"<mc.{check_id(resource_id)}.{secrets.token_hex(8)}@{domain}>"


def thread_root(resource_id: str, domain: str) -> str:
    return f"<mc.{check_id(resource_id)}.thread@{domain}>"


def from_message_ids(*headers: str | None) -> str | None:
    """The id of the last of our Message-IDs found in In-Reply-To / References values."""
    for value in headers:
        found = _MSGID.findall(value or "")
        if found:
            return str(found[-1])
    return None
