"""Screenshots of the console for the README: the failed list and a failed mail's detail page.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Seeds a throw-away demo (the same mails as `make run`), serves it on 127.0.0.1 and drives the
system Chromium with Playwright.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console import create_app  # noqa: E402
from console.commands import prepare_demo  # noqa: E402

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = prepare_demo(Path(tmp) / "demo-data")
        password = secrets.token_urlsafe(12)
        demo.services.accounts.create("olivia", password, "operator", by="screenshots")
        app = create_app({"SECRET_KEY": demo.secret_key, "MAILCORE_SERVICES": demo.services})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": 800})
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "olivia")
                page.fill("input[name=password]", password)
                page.click("button[type=submit]")
                page.wait_for_selector("table.failed")
                page.screenshot(path=str(out / "failed-list.png"), full_page=True)
                # The HTML-only mail with a typo in a key: the richest detail page.
                page.click("text=RE: [VEH-1046] Registration request")
                page.wait_for_selector("#editor")
                page.wait_for_timeout(300)  # the sandboxed frame renders
                page.screenshot(path=str(out / "detail.png"), full_page=True)
                browser.close()
        finally:
            server.shutdown()
            demo.services.close()
    print(f"wrote {out / 'failed-list.png'} and {out / 'detail.png'}")


if __name__ == "__main__":
    main()
