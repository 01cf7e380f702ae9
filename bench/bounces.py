"""Bounces and auto-replies on the development corpora, per MTA family, against each corpus.

Corpora (tests/fixtures/bounces/, see its README): flufl.bounce's samples with the addresses
and temporary/permanent verdicts its tests state, Mail-DeliveryStatus-BounceParser's with its
tests' is_bounce, std_reason, smtp_code and addresses, flanker's with status and address, and
mailcore's own written set. For each family it prints how many are recognised as automatic,
of the right kind, with the right recipients, status, hard/soft and reason, where the corpus
states one ("-" when it states none), then the time per message against a plain mail's.

Run: .venv/bin/python bench/bounces.py
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailcore.inbound.extract import extract  # noqa: E402

CORPORA = ROOT / "tests" / "fixtures" / "bounces"
# BounceParser's std_reason -> mailcore's BounceReason
STD_REASON = {
    "user_unknown": "unknown-user",
    "over_quota": "mailbox-full",
    "message_too_large": "message-too-large",
    "domain_error": "domain-not-found",
    "spam": "blocked-as-spam",
}


@dataclass
class Case:
    corpus: str
    family: str
    raw: bytes
    kind: str | None  # expected kind, None: not automatic
    addresses: list[str] | None = None
    status: str | None = None
    severity: str | None = None
    reason: str | None = None
    smtp_code: str | None = None


@dataclass
class Tally:
    counts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, name: str, ok: bool | None) -> None:
        if ok is not None:
            self.counts[name][0] += int(ok)
            self.counts[name][1] += 1

    def cell(self, name: str) -> str:
        ok, total = self.counts.get(name, [0, 0])
        return f"{ok}/{total}" if total else "-"


def flufl_cases() -> list[Case]:
    folder = CORPORA / "flufl"
    expected = json.loads((folder / "expected.json").read_text())
    cases = []
    for path in sorted(folder.glob("*.txt")):
        stated = expected.get(path.name)
        family = path.stem.rsplit("_", 1)[0]
        if stated is None:
            cases.append(Case("flufl", family, path.read_bytes(), "bounce"))
            continue
        human = path.name == "groupwise_03.txt"  # its test: "not a bounce but confused groupwise"
        cases.append(
            Case(
                "flufl",
                family,
                path.read_bytes(),
                None if human else "bounce",
                addresses=None if human or not stated["addresses"] else stated["addresses"],
                severity=None if human else ("soft" if stated["temporary"] else "hard"),
            )
        )
    return cases


def stated_cases(corpus: str) -> list[Case]:
    folder = CORPORA / corpus
    expected = json.loads((folder / "expected.json").read_text())
    cases = []
    for name, stated in sorted(expected.items()):
        if name.startswith("_"):
            continue
        kind = "bounce" if stated.get("is_bounce") else stated.get("mailcore_kind")
        cases.append(
            Case(
                corpus,
                stated.get("family", corpus),
                (folder / name).read_bytes(),
                kind,
                addresses=stated.get("addresses"),
                status=stated.get("status"),
                severity=stated.get("severity")
                or (
                    None
                    if "temporary" not in stated
                    else ("soft" if stated["temporary"] else "hard")
                ),
                reason=STD_REASON.get(stated.get("std_reason", ""), stated.get("reason")),
                smtp_code=stated.get("smtp_code"),
            )
        )
    return cases


def check(case: Case, tally: Tally) -> None:
    found = extract(case.raw)
    tally.add("automatic", found.auto_reply == (case.kind is not None))
    tally.add("kind", (found.auto_kind.value if found.auto_kind else None) == case.kind)
    bounce = found.bounce
    records = bounce.recipients if bounce else ()
    if case.addresses is not None:
        got = {r.address.lower() for r in records}
        tally.add("recipients", got == {a.lower() for a in case.addresses})
    if case.status is not None:
        tally.add("status", any(r.status == case.status for r in records))
    if case.smtp_code is not None:
        tally.add("status", any(case.smtp_code in (r.diagnostic or "") for r in records))
    if case.severity is not None:
        tally.add("hard/soft", bounce is not None and bounce.severity.value == case.severity)
    if case.reason is not None:
        tally.add("reason", any(r.reason.value == case.reason for r in records))


def plain_mail() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ann@example.org", "ops@example.com", "Lease"
    msg.set_content("Hello,\n\nplease find the mileage below.\n\nmileage: 42000\n\nAnn\n")
    return msg.as_bytes()


def per_message(raws: list[bytes], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for raw in raws:
            extract(raw)
    return (time.perf_counter() - start) / (rounds * len(raws))


def main() -> None:
    cases = flufl_cases() + stated_cases("bounceparser") + stated_cases("flanker")
    written = CORPORA / "written"
    if (written / "expected.json").exists():
        cases += stated_cases("written")
    families: dict[tuple[str, str], Tally] = defaultdict(Tally)
    total = Tally()
    for case in cases:
        check(case, families[(case.corpus, case.family)])
        check(case, total)
    columns = ("automatic", "kind", "recipients", "status", "hard/soft", "reason")
    print(f"{'corpus':13} {'family':22} " + " ".join(f"{c:>10}" for c in columns))
    for (corpus, family), tally in sorted(families.items()):
        cells = " ".join(f"{tally.cell(c):>10}" for c in columns)
        print(f"{corpus:13} {family:22} {cells}")
    print(
        f"{'all':13} {str(len(cases)) + ' messages':22} "
        + " ".join(f"{total.cell(c):>10}" for c in columns)
    )
    floor = per_message([plain_mail()], 2000)
    spent = per_message([c.raw for c in cases], 3)
    print(f"time per message: {spent * 1e3:.2f} ms, {spent / floor:.1f}x a plain mail's")


if __name__ == "__main__":
    main()
