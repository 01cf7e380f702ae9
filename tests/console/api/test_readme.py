"""The README's JSON API examples, run as they are written: real curl against the console
served on 127.0.0.1 (an admin token, so every example is allowed), each answer checked."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.console.api.conftest import ApiEnv

README = Path(__file__).resolve().parents[3] / "README.md"
# What each example must answer, by the path it calls (in the README's order).
EXPECTED = [
    ("/mail/failed/?", lambda a: a["total"] >= 1 and a["items"]),
    ('/mail/failed/$MAIL"', lambda a: a["extraction"] and "timeline" in a),
    ("/validate", lambda a: "valid" in a),
    ("/rerun", lambda a: a["status"]),
    ("/reject", lambda a: a["status"] == "rejected"),
    ("/mail/today", lambda a: a["rows"][0]["status"] == "rejected"),
    ("/api/v1/send", lambda a: a["message_id"].startswith("<")),
    ("/preview", lambda a: a["ok"] and "Dear Ann" in a["text"]),
    ("/history/", lambda a: "messages" in a),
    ("/openapi.json", lambda a: a["openapi"] == "3.1.0"),
]


def readme_examples() -> list[str]:
    """The curl commands of the README's checked block (continuation lines joined)."""
    section = README.read_text(encoding="utf-8").split("## JSON API", 1)[1]
    block = section.split("runs each of these with curl", 1)[1].split("```sh", 1)[1]
    block = block.split("```", 1)[0].replace("\\\n", " ")
    return [line.strip() for line in block.splitlines() if line.strip().startswith("curl ")]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_every_readme_example_answers_as_documented(api: ApiEnv, tmp_path: Path) -> None:
    from console.testing import serve
    from mailcore import Settings
    from tests.console.conftest import failed_uid
    from tests.mailcore.smtp_server import smtp_server

    examples = readme_examples()
    assert len(examples) == len(EXPECTED)
    svc = api.env.services
    svc.templates.save("welcome", "Welcome {{ name }}", "Dear {{ name }}", {"name": "Ann"},
                       "first", "test")  # fmt: skip
    env = {**os.environ, "TOKEN": api.secrets["admin"], "MAIL": str(failed_uid(api.env, "VEH"))}
    with smtp_server() as smtp, serve(api.env.app) as base:
        svc.settings = Settings.from_mapping(
            {"smtp": {"url": f"smtp://{smtp.host}:{smtp.port}?security=plain",
                      "sender": "Ops <ops@example.com>"}, "database_url": "sqlite://"}
        )  # fmt: skip
        env["MAILCORE"] = base
        for command, (marker, check) in zip(examples, EXPECTED, strict=True):
            assert marker in command, (marker, command)
            done = subprocess.run(["bash", "-c", command], env=env, capture_output=True,
                                  timeout=60, check=False)  # fmt: skip
            assert done.returncode == 0, (command, done.stdout[:500], done.stderr)
            answer: Any = json.loads(done.stdout)
            assert check(answer), (command, answer)
    assert len(smtp.recorder.messages) == 1
    assert re.search(rb"Welcome Zo", smtp.recorder.messages[0].data)
