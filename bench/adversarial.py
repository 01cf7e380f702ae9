"""Adversarial inputs: extraction time must grow linearly with the size of the mail.

For each pathological family the mail is built at 10 KB, 100 KB and 1 MB; the table gives the
time per KB at each size and the ratio 1 MB / 10 KB of those (linear: about 1, goal <= 2). The
families "alias bombs" and "huge numbers" are YAML/JSON payloads in a mail body, timed through
extract() and the registry's validation. Last, the peak RSS of extracting a mail with a 25 MB
attachment, measured in a fresh subprocess, divided by the mail's size (goal < 4).

Run: .venv/bin/python bench/adversarial.py [--sizes 10000,100000,1000000] [--family NAME]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailcore.inbound.extract import extract  # noqa: E402
from mailcore.processing.registry import Registry  # noqa: E402

HEAD = b"From: partner@example.org\nTo: ops@example.com\nSubject: request\n"


def _text_mail(body: bytes) -> bytes:
    return HEAD + b"Content-Type: text/plain; charset=utf-8\n\n" + body


def long_whitespace(size: int) -> bytes:
    """A From line then one line of blanks: the history-header patterns' worst case."""
    return _text_mail(b"From: x@example.org\n" + b" " * size + b"x\n")


def tab_at(size: int) -> bytes:
    """Lines of 398 tabs and an "@", each a candidate for "jane@x.org wrote:"."""
    return _text_mail((b"\t" * 398 + b"@\n") * max(1, size // 400))


def dotted_address(size: int) -> bytes:
    """ "From: a.a.a....@example.org": the address patterns' worst case."""
    return (
        b"From: " + b"a." * (size // 2) + b"@example.org\nTo: ops@example.com\nSubject: x\n\nhi\n"
    )


def entities(size: int) -> bytes:
    """An HTML-only mail made of character references."""
    html = b"<html><body><p>" + b"&amp;&#x41;&lt;&nbsp;" * (size // 21) + b"</p></body></html>"
    return HEAD + b"Content-Type: text/html; charset=utf-8\n\n" + html


def many_parts(size: int) -> bytes:
    """A flat multipart of tiny parts: 100k of them at 1 MB."""
    part = b"--b\n\nx\n"
    return (
        HEAD + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
        + part * max(1, size // len(part)) + b"--b--\n"
    )  # fmt: skip


def deep_nesting(size: int) -> bytes:
    """Multiparts nested in each other, as deep as the size allows."""
    level = b'Content-Type: multipart/mixed; boundary="%d"\n\n--%d\n'
    depth = max(1, size // 60)
    head = b"".join(level % (k, k) for k in range(depth))
    tail = b"".join(b"--%d--\n" % k for k in reversed(range(depth)))
    return HEAD + b"MIME-Version: 1.0\n" + head + b"Content-Type: text/plain\n\nx\n" + tail


def alias_bomb(size: int) -> bytes:
    """A YAML "billion laughs" payload, its fan-out growing with the size."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 9):
        lines.append(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * 10) + "]")
    bomb = "\n".join(lines) + "\nbomb: [" + ",".join(["*a8"] * max(1, size // 5)) + "]\n"
    return _text_mail(bomb.encode())


def huge_number(size: int) -> bytes:
    """A JSON payload whose number has as many digits as the mail has bytes."""
    body = b'{"plate_number": "AB-123", "mileage": 1' + b"0" * size + b"}\n"
    return _text_mail(body)


FAMILIES: dict[str, Callable[[int], bytes]] = {
    "long whitespace lines": long_whitespace,
    "tab+@ lines": tab_at,
    "a. addresses": dotted_address,
    "entities": entities,
    "100k parts": many_parts,
    "deep nesting": deep_nesting,
    "alias bombs": alias_bomb,
    "huge numbers": huge_number,
}
# These carry a payload: validated against a schema as the engine would.
VALIDATED = frozenset({"alias bombs", "huge numbers"})


def _registry() -> Registry:
    registry = Registry()

    def handle(ctx: object) -> None:
        return None

    registry.add(
        "vehicle",
        handle,
        prefix="VEH-",
        schema={
            "type": "object",
            "properties": {"plate_number": {"type": "string"}, "mileage": {"type": "integer"}},
        },
    )
    return registry


def run_once(family: str, raw: bytes) -> float:
    """Seconds to extract `raw` (and validate its payload for the payload families)."""
    spec = _registry().get("vehicle") if family in VALIDATED else None
    start = time.perf_counter()
    result = extract(raw)
    if spec is not None and result.payload is not None:
        spec.validate(spec.prepare(result.payload))
    return time.perf_counter() - start


def timing_table(sizes: list[int], only: str | None) -> list[tuple[str, list[float], float]]:
    rows = []
    for family, build in FAMILIES.items():
        if only and only not in family:
            continue
        per_kb = []
        for size in sizes:
            raw = build(size)
            per_kb.append(run_once(family, raw) / (len(raw) / 1000))
        rows.append((family, per_kb, per_kb[-1] / per_kb[0]))
    return rows


_RSS_CHILD = """
import resource, sys
from mailcore.inbound.extract import extract

def peak():
    # ru_maxrss is inherited through fork and exec (the child starts at its parent's peak);
    # VmHWM is this process's own high-water mark. Bytes.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

raw = open(sys.argv[1], "rb").read()
before = peak()
result = extract(raw)
assert result.attachments and result.attachments[-1].size > 0, result.defects
print(before, peak())
"""


def attachment_mail(megabytes: int) -> bytes:
    """A text mail with one base64 attachment of `megabytes` MB."""
    data = os.urandom(megabytes * 1_000_000)
    encoded = base64.encodebytes(data)
    return (
        HEAD + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nThe file attached.\n"
        b"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment; filename="big.bin"\n\n' + encoded + b"--b--\n"
    )


def peak_rss_ratio(megabytes: int, path: Path) -> tuple[int, float]:
    """(mail size, peak RSS increase while extracting it / mail size), in a fresh process.

    The baseline is the child's peak after reading the file, so the ratio counts what
    extraction adds on top of the raw bytes plus the raw bytes themselves once.
    """
    raw = attachment_mail(megabytes)
    path.write_bytes(raw)
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.split()
    before, after = int(out[0]), int(out[1])
    return len(raw), (after - before + len(raw)) / len(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--family", default=None, help="only families whose name contains this")
    parser.add_argument("--no-rss", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    labels = " | ".join(f"ms/KB at {s // 1000} KB" for s in sizes)
    print(f"| family | {labels} | ratio {sizes[-1] // 1000} KB / {sizes[0] // 1000} KB |")
    print("| --- |" + " --- |" * (len(sizes) + 1))
    worst = 0.0
    for family, per_kb, ratio in timing_table(sizes, args.family):
        cells = " | ".join(f"{t * 1000:.3f}" for t in per_kb)
        print(f"| {family} | {cells} | {ratio:.2f} |", flush=True)
        worst = max(worst, ratio)
    print(f"\nworst ratio: {worst:.2f} (goal <= 2)")
    if not args.no_rss:
        path = Path("/tmp") / f"mailcore-adversarial-{os.getpid()}.eml"
        try:
            size, ratio = peak_rss_ratio(25, path)
        finally:
            path.unlink(missing_ok=True)
        print(f"25 MB attachment: mail {size / 1e6:.1f} MB, peak RSS / mail size {ratio:.2f} "
              "(goal < 4)")  # fmt: skip


if __name__ == "__main__":
    main()
