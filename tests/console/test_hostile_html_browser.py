"""A hostile HTML mail shown in the console runs no script and loads nothing from elsewhere."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.console.conftest import ConsoleEnv

pytestmark = pytest.mark.browser


class Recorder:
    """An HTTP server on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                recorder.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


def hostile_mail(base: str) -> bytes:
    html = f"""<html><head>
<meta http-equiv="refresh" content="0;url={base}/refresh">
<base href="{base}/base/">
<link rel="stylesheet" href="{base}/link.css">
<style>@import url({base}/import.css); body {{ background: url('{base}/css-bg.png'); }}
.x {{ background-image: u\\72l({base}/escaped.png) }}</style>
<script>window.parent.pwned = 1; parent.document.title = "pwned"; alert("script");</script>
</head><body onload="alert('onload')">
<h1 id="hello">Hello operator</h1>
<img src="{base}/remote.png" onerror="alert('onerror')">
<img srcset="{base}/srcset.png 2x" src="x" onerror="alert('onerror2')">
<svg onload="alert('svg')"><image href="{base}/svg.png"/></svg>
<div style="background-image:url({base}/inline-style.png)">styled</div>
<video poster="{base}/poster.png" src="{base}/video.mp4"></video>
<iframe src="{base}/iframe"></iframe>
<object data="{base}/object"></object>
<form action="{base}/form" method="post"><input name="q" value="1">
<button id="go">Go</button></form>
<a id="jslink" href="javascript:alert('link')">click me</a>
<a id="remote" href="{base}/clicked">remote link</a>
</body></html>"""
    msg = EmailMessage()
    msg["From"] = "Mallory <mallory@evil.example>"
    msg["To"] = "registrations@example.com"
    msg["Subject"] = "Invoice overdue"
    msg["Message-ID"] = "<hostile-1@evil.example>"
    msg["Date"] = "Mon, 17 Nov 2025 10:00:00 +0000"
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


@pytest.fixture
def console_env(app_factory: Callable[..., ConsoleEnv], recorder: Recorder) -> ConsoleEnv:
    env = app_factory()
    env.services.mailbox.append("INBOX", hostile_mail(recorder.url))
    assert [o.status for o in env.services.engine.poll_once()] == ["failed"]
    return env


def test_hostile_html_runs_no_script_and_loads_nothing(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv, recorder: Recorder
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, "olivia")
    uid = console_env.services.engine.failed_page().items[0].summary.uid
    page.goto(f"/failed/{uid}")
    title = page.title()
    frame_element = page.wait_for_selector("iframe#mail-html")
    assert frame_element.get_attribute("sandbox") == ""  # no allow-scripts, no allow-same-origin
    frame = frame_element.content_frame()
    assert frame is not None
    frame.wait_for_selector("#hello")
    # The mail's harmless content is visible; clicking its links and buttons does nothing.
    frame.click("#jslink")
    frame.click("#remote")
    frame.click("#go")
    page.wait_for_timeout(800)

    assert dialogs == []
    assert page.evaluate("window.pwned") is None
    assert page.title() == title
    assert page.url.endswith(f"/failed/{uid}")
    assert recorder.hits == []
    assert page.locator("#blocked-notice").is_visible()

    # Opened on its own (not framed), the HTML still cannot run script or load anything.
    page.goto(f"/failed/{uid}/html")
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.evaluate("window.pwned") is None
    assert recorder.hits == []


# The sanitizer alone, without the frame's sandbox and CSP: its output loaded as a page of its
# own in Chromium (scripts enabled) runs nothing, has no handler and loads nothing.
MAIL_PAGE = "http://mail.test/"
ACTIVE_DOM = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    if (el.namespaceURI !== 'http://www.w3.org/1999/xhtml') found.push('ns:' + el.tagName);
    if (['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'BASE', 'TEMPLATE'].includes(el.tagName))
      found.push(el.tagName);
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name) || /^(href|srcset|action|formaction)$/i.test(attr.name))
        found.push(el.tagName + '@' + attr.name);
      if (/javascript:/i.test(attr.value.replace(/\\s/g, ''))) found.push('js:' + attr.name);
    }
  }
  return found;
}"""


@pytest.fixture
def bare_page(browser: Any) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page on which `MAIL_PAGE` is served from `bare_page.body`; every other request is
    recorded and refused. Yields (page, requests, dialogs)."""
    context = browser.new_context()
    requests: list[str] = []
    dialogs: list[str] = []
    body: dict[str, str] = {}

    def route(r: Any) -> None:
        if r.request.url == MAIL_PAGE:
            r.fulfill(status=200, content_type="text/html", body=body["html"])
        else:
            requests.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_default_timeout(10_000)
    page.body = body  # type: ignore[attr-defined]
    try:
        yield page, requests, dialogs
    finally:
        context.close()


def test_sanitized_mxss_payloads_are_inert_in_chromium_without_sandbox_or_csp(
    bare_page: tuple[Any, list[str], list[str]],
) -> None:
    from console.mailview import frame_document, safe_html
    from tests.console.test_mailview import MXSS

    page, requests, dialogs = bare_page
    for payload in MXSS:
        page.body["html"] = frame_document(safe_html(payload))
        page.goto(MAIL_PAGE)  # waits for the load event: failed images have fired by then
        assert page.evaluate("window.pwned") is None, payload
        assert page.evaluate(ACTIVE_DOM) == [], payload
    assert dialogs == [] and requests == []


def test_unsanitized_payload_does_run_on_the_bare_page(
    bare_page: tuple[Any, list[str], list[str]],
) -> None:
    # The harness can see a live payload: without safe_html the same page is pwned.
    page, _, _ = bare_page
    page.body["html"] = '<svg><style><img src=x onerror="window.pwned=1"></style></svg>'
    page.goto(MAIL_PAGE)
    page.wait_for_function("window.pwned === 1")
