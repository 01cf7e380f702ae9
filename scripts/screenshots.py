"""Screenshots of the console for the README: the failed list and a failed mail's detail page.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Seeds a throw-away demo (the same mails as `make run`), serves it on 127.0.0.1 and drives the
system Chromium with Playwright.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.testing import chromium, demo_console, log_in  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with demo_console("olivia", "operator") as (base, password), chromium() as browser:
        page = browser.new_page(viewport={"width": args.width, "height": 800})
        log_in(page, "olivia", password, base)
        page.wait_for_selector("table.failed")
        page.screenshot(path=str(out / "failed-list.png"), full_page=True)
        # The HTML-only mail with a typo in a key: the richest detail page.
        page.click("text=RE: [VEH-1046] Registration request")
        page.wait_for_selector("#editor")
        # The mail's HTML frame loads lazily: below the fold (a phone), only once scrolled to.
        page.locator("#mail-html").scroll_into_view_if_needed()
        page.frame_locator("#mail-html").locator("body").wait_for()
        # A full-page capture at phone width leaves the sandboxed frame blank: make the
        # viewport as tall as the page instead, and capture that.
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": args.width, "height": height})
        page.wait_for_timeout(300)  # the sandboxed frame renders
        page.screenshot(path=str(out / "detail.png"), full_page=True)
    print(f"wrote {out / 'failed-list.png'} and {out / 'detail.png'}")


if __name__ == "__main__":
    main()
