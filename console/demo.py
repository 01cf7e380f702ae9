"""The demo's business: a vehicle registration office that receives requests by e-mail.

Garages and owners reply to our mails (``reply+VEH-1042@example.com``, subject tag
``[VEH-1042]``) with the vehicle's details, in English, French or German. Two handlers:

- ``vehicle_registration`` (identifiers ``VEH-...``): plate number, VIN, owner, category;
- ``address_change`` (identifiers ``ADR-...``): a registration holder's new postal address.

The sample mails in ``console/demo_mails/`` were written the way real clients write them
(Thunderbird, Outlook, Apple Mail, Gmail); some succeed, several fail for different reasons.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from mailcore.errors import HandlerFailed
from mailcore.processing.registry import HandlerContext, Registry

log = logging.getLogger(__name__)

MAILS_DIR = Path(__file__).resolve().parent / "demo_mails"

# Files the office has opened and is waiting on; anything else is an unknown identifier.
OPEN_FILES = {f"VEH-{n}" for n in range(1040, 1060)} | {f"ADR-{n}" for n in range(2200, 2220)}
# Who each vehicle file was opened for (holder, plate): what the handler offers an operator
# attaching a mail with a wrong or missing reference to its file.
FILE_HOLDERS = {
    "VEH-1049": ("Thomas Morel", "TV-556-XZ"),
    "VEH-1051": ("Thomas Moreau", "TV-555-XY"),
    "VEH-1052": ("Nicolas Girard", "GH-808-JK"),
    "VEH-1053": ("Nadia Girardot", "GH-880-KJ"),
}

VEHICLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["plate_number", "vin", "owner", "category"],
    "additionalProperties": False,
    "properties": {
        "plate_number": {
            "type": "string",
            "pattern": "^[A-Z]{2}-[0-9]{3}-[A-Z]{2}$",
            "description": "French SIV format, e.g. AB-123-CD",
        },
        "vin": {
            "type": "string",
            "pattern": "^[A-HJ-NPR-Z0-9]{17}$",
            "description": "17 characters, no I, O or Q",
        },
        "owner": {"type": "string", "minLength": 3, "description": "the holder's full name"},
        "category": {"enum": ["car", "motorcycle", "van", "truck"], "title": "Vehicle category"},
        "first_registration": {"type": "string", "format": "date"},
        "mileage_km": {"type": "integer", "minimum": 0, "description": "in kilometres"},
        "notes": {"type": "string"},
    },
}
VEHICLE_ALIASES = {
    "plate_number": ["immatriculation", "plaque", "kennzeichen", "plate", "registration"],
    "vin": ["numero_de_serie", "numero_vin", "fahrgestellnummer", "fin"],
    "owner": ["titulaire", "proprietaire", "halter", "eigentumer"],
    "category": ["categorie", "genre", "fahrzeugklasse", "type"],
    "first_registration": ["date_de_premiere_immatriculation", "erstzulassung"],
    "mileage_km": ["kilometrage", "kilometerstand", "mileage"],
}

ADDRESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["holder", "street", "postcode", "city"],
    "additionalProperties": False,
    "properties": {
        "holder": {"type": "string", "minLength": 3},
        "street": {"type": "string", "minLength": 3},
        "postcode": {"type": "string", "pattern": "^[0-9]{4,5}$"},
        "city": {"type": "string", "minLength": 2},
        "country": {"type": "string", "minLength": 2, "maxLength": 2},
    },
}
ADDRESS_ALIASES = {
    "holder": ["titulaire", "name", "nom", "inhaber"],
    "street": ["rue", "adresse", "strasse", "address"],
    "postcode": ["code_postal", "cp", "plz", "zip"],
    "city": ["ville", "ort", "stadt"],
    "country": ["pays", "land"],
}


class Office:
    """The back office the handlers write to: registrations and addresses, in a JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def file(self, kind: str, identifier: str | None, data: dict[str, Any], by: str) -> dict:
        if identifier not in OPEN_FILES:
            raise HandlerFailed(
                f"unknown identifier {identifier or '(none)'}: no open file has this number;"
                " check the reference in the mail or attach it to the right file",
                failure="unknown_identifier",
            )
        record = {"kind": kind, "file": identifier, "data": data, "by": by}
        with self._lock:
            self.records.append(record)
            if self.path is not None:
                # The partners' data: readable by the demo's user only, as its mailbox.
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with open(fd, "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(self.records, indent=2))
        return {"file": identifier, "status": "registered"}


def vehicle_files(ctx: HandlerContext) -> list[tuple[str, str]]:
    """The vehicle files a mail may belong to: those whose holder the sender or the payload
    names, whose plate the payload gives, or whose number starts with what the operator
    typed -- best first."""
    seen = " ".join([ctx.sender, str(ctx.payload.get("owner", ""))]).lower()
    plate = str(ctx.payload.get("plate_number", "")).upper()
    typed = (ctx.identifier or "").strip().upper()
    scored = []
    for ident, (holder, file_plate) in FILE_HOLDERS.items():
        score = sum(2 for word in holder.lower().split() if word in seen)
        score += 3 if plate and plate == file_plate else 0
        score += 1 if typed and ident.startswith(typed) and ident != typed else 0
        if score:
            scored.append((-score, ident, f"{holder}, plate {file_plate}"))
    return [(ident, label) for _, ident, label in sorted(scored)]


def build_registry(office: Office | None = None) -> Registry:
    """A registry with the demo's two handlers writing into `office`."""
    office = office or Office()
    registry = Registry()

    @registry.handler(
        "vehicle_registration",
        prefix="VEH-",
        schema=VEHICLE_SCHEMA,
        aliases=VEHICLE_ALIASES,
        candidates=vehicle_files,
    )
    def vehicle_registration(ctx: HandlerContext) -> dict[str, Any]:
        """Register a vehicle on the open file named by the identifier."""
        return office.file("vehicle", ctx.identifier, ctx.payload, ctx.actor)

    @registry.handler(
        "address_change",
        prefix="ADR-",
        schema=ADDRESS_SCHEMA,
        aliases=ADDRESS_ALIASES,
    )
    def address_change(ctx: HandlerContext) -> dict[str, Any]:
        """Record a holder's new address on the open file named by the identifier."""
        return office.file("address", ctx.identifier, ctx.payload, ctx.actor)

    return registry


def sample_mails() -> list[tuple[str, bytes]]:
    """(file name, raw bytes) of the demo mails, in the order they arrive."""
    return [(p.name, p.read_bytes()) for p in sorted(MAILS_DIR.glob("*.eml"))]


# For `MAILCORE_HANDLERS=console.demo:registry mailcore serve` on a real mailbox.
registry = build_registry()
