"""Screenshots of the template editor and the admins' history for the README.

    .venv/bin/python scripts/screenshots_authoring.py [--out docs/screenshots]

Seeds a throw-away demo (the same mails as `make run`), has operator "alice" correct and
re-submit the failed VEH-1045 mail through the Engine, saves two versions of a template (the
second in French too), and adds two weeks of earlier outcomes so the chart has something to
show (those are recorded directly in the history: the demo mailbox only holds today's mails).
Then serves the app on 127.0.0.1 and drives the system Chromium with Playwright.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.testing import chromium, demo_console, log_in  # noqa: E402
from mailcore.store.records import EventKind, LogEvent  # noqa: E402

SUBJECT = "Registration of {{ plate_number }} received"
BODY = """\
## Registration received

Hello {{ owner }},

we received the registration request for the **{{ category }}** with plate
**{{ plate_number }}** (VIN `{{ vin }}`).

| Field | Value |
|---|---|
| First registration | {{ first_registration }} |
| Mileage | {{ mileage_km }} km |

{% if notes %}Your note: *{{ notes }}*{% endif %}

We will write again once the certificate is issued.
"""
SUBJECT_FR = "Demande d'immatriculation de {{ plate_number }} reçue"
BODY_FR = """\
## Demande reçue

Bonjour {{ owner }},

nous avons reçu la demande d'immatriculation du véhicule **{{ plate_number }}**
(VIN `{{ vin }}`).

Nous vous écrirons dès que le certificat sera établi.
"""
SAMPLE = {
    "plate_number": "AB-123-CD",
    "vin": "VF1RFB00X57123456",
    "owner": "Claire Fontaine",
    "category": "car",
    "first_registration": "2019-04-02",
    "mileage_km": 48200,
    "notes": "Please send the certificate by post.",
}
CORRECTION = {
    "plate_number": "AB-123-CD",
    "vin": "VF3ABCDEF12345678",
    "owner": "Hugo Petit",
    "category": "motorcycle",
    "mileage_km": 23000,
}


# The event that leaves a message in each status.
KINDS = {
    "processed": EventKind.HANDLED,
    "failed": EventKind.FAILED,
    "auto": EventKind.AUTO_REPLY,
    "rejected": EventKind.REJECTED,
}


def seed(services: Any) -> None:
    """A correction by alice, two template versions, and earlier days for the chart."""
    accounts = services.accounts
    for name, role in (("alice", "operator"), ("arthur", "author")):
        if accounts.by_name(name) is None:
            accounts.create(name, secrets.token_urlsafe(12), role, by="admin")
    engine = services.engine
    page = engine.failed_page(per_page=100)
    for item in page.items:
        if "VEH-1045" in item.summary.subject:
            engine.resubmit(item.summary.uid, dict(CORRECTION), by="alice")
    store = services.templates
    store.save(
        "registration-received",
        SUBJECT,
        BODY.replace("We will write again", "We write again"),
        SAMPLE,
        "first version",
        "arthur",
        handler="vehicle_registration",
    )
    store.save(
        "registration-received",
        SUBJECT,
        BODY,
        SAMPLE,
        "clearer last sentence, in French too",
        "arthur",
        handler="vehicle_registration",
        variants={"fr": (SUBJECT_FR, BODY_FR)},
    )
    rng = random.Random(1045)
    now = datetime.now(UTC)
    events, states = [], []
    for days_ago in range(1, 15):
        day = now - timedelta(days=days_ago)
        for status, mean in (("processed", 9), ("failed", 2), ("auto", 1), ("rejected", 0.4)):
            for _ in range(max(0, round(rng.gauss(mean, mean / 3 + 0.5)))):
                at = day.replace(hour=rng.randint(7, 18), minute=rng.randint(0, 59))
                mail = {
                    "message_key": secrets.token_hex(16),
                    "sender": f"garage{rng.randint(1, 40)}@example.net",
                    "subject": f"Re: [VEH-{rng.randint(1040, 1059)}] Registration request",
                    "handler": "vehicle_registration",
                    "status": status,
                }
                kind = KINDS[status]
                events.append(LogEvent(kind=kind, at=at, **mail))
                states.append({**mail, "received_at": at, "updated_at": at})
    # The chart counts mail (each message once, on the day it arrived): states, not events.
    services.history.record_batch(events, states)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with demo_console("ada", "admin", seed=seed) as (base, password), chromium() as browser:
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        log_in(page, "ada", password, base)

        page.goto(f"{base}/templates/registration-received")
        # Type a line so the screenshot shows the live preview (and its problem list).
        body = page.locator("#body")
        body.click()
        page.keyboard.press("Control+End")
        body.press_sequentially("\nKind regards, {{ office_name }}")
        page.locator("#problems-body .error").wait_for()
        # The French version in the preview; the default's problem stays listed.
        page.select_option("#preview-language", "fr")
        page.locator("#preview-shown", has_text="fr").wait_for()
        page.frame_locator("iframe.mail-frame.desktop").locator("table.card").wait_for()
        # A full_page capture resizes the viewport under the sandboxed (out-of-process) frame,
        # which then shows half-painted: size the viewport to the page and capture that instead.
        height = page.evaluate("() => document.documentElement.scrollHeight")
        page.set_viewport_size({"width": args.width, "height": height})
        page.frame_locator("iframe.mail-frame.desktop").locator("table.card").wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "editor.png"))

        # One handler: the chart follows the filter, alice's correction tops the table.
        page.set_viewport_size({"width": args.width, "height": 1100})
        page.goto(f"{base}/history/?handler=vehicle_registration")
        page.wait_for_selector("figure.chart svg rect")
        page.screenshot(path=str(out / "history.png"))
    print(f"wrote {out / 'editor.png'} and {out / 'history.png'}")


if __name__ == "__main__":
    main()
