"""`mailcore parse` as a user runs it: a real subprocess, on a file and on stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "mail" / "gmail_reply.eml"
MAILCORE = Path(sys.executable).parent / "mailcore"


def _check(output: str) -> None:
    data = json.loads(output)
    assert data["identifier"] == "VEH-2024-0042"
    assert data["payload"] == {"plate_number": "AB-123-CD", "owner": "Marie Dupont",
                               "mileage": "48200"}  # fmt: skip
    assert data["payload_source"] == "key-lines"
    assert data["headers"]["from"] == "marie.dupont@gmail.com"


def test_parse_file() -> None:
    proc = subprocess.run(
        [str(MAILCORE), "parse", str(FIXTURE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("{\n  ")  # indented
    _check(proc.stdout)


def test_parse_stdin_keeps_non_ascii() -> None:
    raw = (FIXTURE.parent / "french_reply.eml").read_bytes()
    proc = subprocess.run([str(MAILCORE), "parse", "-"], input=raw, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode("utf-8")
    assert "Hélène Lefèvre" in text  # ensure_ascii=False
    assert json.loads(text)["identifier"] == "VEH-2024-0310"


def test_parse_missing_file_is_a_clean_error() -> None:
    proc = subprocess.run(
        [str(MAILCORE), "parse", "/nonexistent/mail.eml"], capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "nonexistent" in proc.stderr


def test_parse_a_file_that_is_no_mail_says_so_instead_of_making_up_a_payload() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    proc = subprocess.run(
        [str(MAILCORE), "parse", str(readme)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 3, proc.stdout[:300]
    assert proc.stdout == "" and "is not an e-mail message" in proc.stderr


def test_parse_a_mail_without_a_payload_exits_1() -> None:
    raw = b"From: a@example.com\nTo: b@example.com\nSubject: hello\n\nJust saying hello.\n"
    proc = subprocess.run([str(MAILCORE), "parse", "-"], input=raw, capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["payload"] in (None, {})
    assert b"no payload found" in proc.stderr
