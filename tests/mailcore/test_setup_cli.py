"""Set-up that cannot mislead, as a newcomer runs it (real subprocesses in an empty directory):
`mailcore poll` without a mailbox says so instead of making one up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MAILCORE = Path(sys.executable).parent / "mailcore"

HANDLERS = """
from mailcore import HandlerContext, Registry

registry = Registry()


@registry.handler("vehicle_registration", prefix="VEH-")
def vehicle_registration(ctx: HandlerContext) -> None:
    return None
"""


def clean_env(cwd: Path) -> dict[str, str]:
    """The environment without any MAILCORE_* setting, importing modules from `cwd`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    env["PYTHONPATH"] = str(cwd)
    return env


def test_poll_without_a_mailbox_says_so_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "office_handlers.py").write_text(HANDLERS, encoding="utf-8")
    proc = subprocess.run(
        [str(MAILCORE), "poll", "--handlers", "office_handlers:registry"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no mailbox configured: set imap_url")  # no traceback
    assert not (tmp_path / "mail").exists()
    assert not (tmp_path / "mailcore.db").exists()  # nor the history's database
