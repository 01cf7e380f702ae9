"""The timeline's "Payload change": only for events whose before/after are payloads; data
shown as JSON keeps its text as typed."""

from __future__ import annotations

from console.demo import sample_mails
from console.timeline import TimelineStep, payload_changes
from mailcore.processing.vocabulary import EventKind
from tests.console.conftest import ConsoleEnv


def test_an_extraction_shows_no_payload_change(console_env: ConsoleEnv) -> None:
    svc = console_env.services
    for _name, raw in sample_mails():
        svc.mailbox.append("INBOX", raw)
    svc.engine.poll_once()
    extracted = [e for e in svc.history.events(limit=500) if e.kind == EventKind.EXTRACTED]
    # Their before/after are extraction metadata, which would read as a payload change.
    assert any(payload_changes(e.before or {}, e.after or {}) for e in extracted)
    for event in extracted:
        step = TimelineStep.of(event)
        assert step.changes == [] and step.diff == []


def test_pretty_json_keeps_text_as_typed_and_escapes_markup(console_env: ConsoleEnv) -> None:
    with console_env.app.app_context():
        render = console_env.app.jinja_env.from_string("<pre>{{ v|pretty_json }}</pre>").render
        assert render(v={"owner": "Zoë <b>"}) == (
            "<pre>{\n  &#34;owner&#34;: &#34;Zoë &lt;b&gt;&#34;\n}</pre>"
        )
