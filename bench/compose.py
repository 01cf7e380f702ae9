"""Benchmark outbound mail: composed messages per second, and the time of one live preview.

Typical template: examples/templates/vehicle-ready.md (headings, a table from a loop, links).
Baseline, measured in the same run: the naive pipeline a first version would write -- plain
Jinja render with values inserted raw, Markdown, `bleach.clean` of the whole page, CSS
inlining, the same MIME structure -- with nothing cached.

- compose (bulk): one template, data varying per message (the normal sending case);
- compose (cold): every cache cleared before each message;
- preview (typing): the template source changes on every call, as in the live editor, so the
  compile and Markdown caches miss. Target: median under 20 ms.

Run: .venv/bin/python bench/compose.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bleach  # noqa: E402
import css_inline  # noqa: E402
import jinja2  # noqa: E402
import markdown  # noqa: E402

from mailcore.outbound import compose as compose_mod  # noqa: E402
from mailcore.outbound import sanitize, templating  # noqa: E402
from mailcore.outbound.compose import compose, preview  # noqa: E402
from mailcore.outbound.templating import parse_template_file  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "templates"
TEMPLATE, _ = parse_template_file((EXAMPLES / "vehicle-ready.md").read_text(), "vehicle-ready")
DATA: dict[str, Any] = json.loads((EXAMPLES / "vehicle-ready.json").read_text())


def data_for(i: int) -> dict[str, Any]:
    data = dict(DATA)
    data["plate"] = f"AB-{i:03d}-CD"
    data["owner"] = {"name": f"Owner {i}"}
    return data


def naive(i: int) -> bytes:
    """The baseline: no sandbox, no caches, bleach over the whole page."""
    env = jinja2.Environment()
    data = data_for(i)
    subject = env.from_string(TEMPLATE.subject).render(data)
    body = env.from_string(TEMPLATE.body).render(data)
    html = markdown.markdown(body, extensions=list(templating.MARKDOWN_EXTENSIONS))
    page_src = (compose_mod.LAYOUT_DIR / "base.html").read_text()
    page = (
        jinja2.Environment(autoescape=True)
        .from_string(page_src)
        .render(
            subject=subject,
            content=jinja2.utils.markupsafe.Markup(html),
            brand=compose_mod.Brand(),
            logo_src="cid:logo",
            preheader="",
            lang="en",
        )
    )
    page = bleach.clean(
        page,
        tags=sanitize.ALLOWED_TAGS | {"html", "head", "body", "table", "style", "meta", "title"},
        attributes=lambda tag, name, value: True,
        strip=True,
    )
    page = css_inline.inline(page)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg.set_content(json.dumps(data))
    msg.add_alternative(body)
    msg.add_alternative(page, subtype="html")
    return msg.as_bytes()


def ours(i: int) -> bytes:
    msg = compose(
        TEMPLATE,
        data_for(i),
        "partner@garage.example",
        f"res-{i}",
        sender="Acme <ops@acme.example>",
        automatic=True,
    )
    return msg.as_bytes()


def ours_cold(i: int) -> bytes:
    templating._compile.cache_clear()
    templating._markdown_html.cache_clear()
    return ours(i)


def rate(func: Callable[[int], bytes], seconds: float) -> float:
    func(0)  # warm-up (imports, thread-local converters)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        func(count)
        count += 1
    return count / (time.perf_counter() - start)


def preview_times(seconds: float) -> tuple[list[float], list[float]]:
    """Times of previews of a template that changes on every call, like typing in the editor,
    and of `bleach.clean` over each resulting page (the cost we avoid paying on top)."""
    times: list[float] = []
    page_clean: list[float] = []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        edited = templating.Template("t", TEMPLATE.subject, TEMPLATE.body + f"\nEdit {i}")
        t0 = time.perf_counter()
        result = preview(edited, DATA)
        t1 = time.perf_counter()
        bleach.clean(result.html, tags=sanitize.ALLOWED_TAGS, strip=True)
        page_clean.append(time.perf_counter() - t1)
        times.append(t1 - t0)
        assert result.ok, result.problems
        i += 1
    return times, page_clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    s = args.seconds

    baseline = rate(naive, s)
    bulk = rate(ours, s)
    cold = rate(ours_cold, s)
    size = len(ours(1))
    print(f"message size: {size} bytes (json + text + html with inlined CSS + logo)")
    print(f"baseline (naive, unsandboxed, bleach on page): {baseline:8.1f} messages/s")
    print(
        f"compose, bulk (one template, varying data):    {bulk:8.1f} messages/s"
        f"  ({bulk / baseline:.2f}x baseline)"
    )
    print(
        f"compose, cold (caches cleared each message):   {cold:8.1f} messages/s"
        f"  ({cold / baseline:.2f}x baseline)"
    )

    times, page_clean = preview_times(s)
    med, p95 = statistics.median(times) * 1000, statistics.quantiles(times, n=20)[-1] * 1000
    clean_med = statistics.median(page_clean) * 1000
    print(
        f"preview while typing: median {med:.2f} ms, p95 {p95:.2f} ms over {len(times)} edits"
        f"  (target < 20 ms: {'met' if med < 20 else 'MISSED'})"
    )
    print(
        f"bleach.clean over the whole page, which previews skip: median {clean_med:.2f} ms"
        f"  (+{clean_med / med:.0%} per preview)"
    )


if __name__ == "__main__":
    main()
