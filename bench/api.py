"""Benchmark the JSON API beside what it wraps, in the same run.

1. Send: POST /api/v1/send (token check, rate limit, template from the store, compose,
   SMTP to a real aiosmtpd on loopback, history record) in messages/second, beside
   `compose` alone on the same template and data: the ratio is what the API and SMTP add.
2. The failed list: GET /api/v1/mail/failed/ (JSON) beside the console's HTML page /failed/
   (logged in), on the same Maildir folder of failed mails; p50/p95 and the ratio JSON / HTML.

Run: .venv/bin/python bench/api.py [--sends 300] [--messages 1000] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.console import p95, timed  # noqa: E402  (the console bench's timing)
from console import create_app  # noqa: E402
from console.api_tokens import ApiTokens  # noqa: E402
from mailcore import MaildirMailbox, Settings, Template, compose  # noqa: E402
from tests.console.conftest import USERS, ConsoleEnv, make_services  # noqa: E402
from tests.mailcore.smtp_server import smtp_server  # noqa: E402

SUBJECT = "Your file {{ ref }}"
BODY = "Dear {{ name }},\n\nyour file **{{ ref }}** is registered.\n\n- plate: {{ plate }}\n"
DATA = {"name": "Zoë Martin", "ref": "F-1042", "plate": "AB-123-CD"}


def failing_mail(i: int) -> bytes:
    """A mail no handler takes (no payload): filed in failed."""
    return (
        f"From: Garage {i % 97} <garage{i % 97}@partners.example>\r\n"
        "To: ops@example.com\r\n"
        f"Subject: Question {i}\r\n"
        f"Message-ID: <bench-api-{i}@partners.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello, what about my car {i}?\r\n"
    ).encode()


def rate(fn: Callable[[int], object], count: int) -> float:
    fn(0)  # warm-up
    start = time.perf_counter()
    for i in range(count):
        fn(i)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, smtp_server() as smtp:
        svc, office = make_services(MaildirMailbox(Path(tmp) / "mail"), Path(tmp) / "c.db")
        for name, (role, password) in USERS.items():
            svc.accounts.create(name, password, role, by="bench")
        for i in range(args.messages):
            svc.mailbox.append("INBOX", failing_mail(i))
        while svc.engine.poll_once():
            pass
        svc.settings = Settings.from_mapping(
            {"smtp": {"url": f"smtp://{smtp.host}:{smtp.port}?security=plain",
                      "sender": "Ops <ops@example.com>"}, "database_url": "sqlite://"}
        )  # fmt: skip
        svc.templates.save("file", SUBJECT, BODY, DATA, "bench", "bench")
        app = create_app({"TESTING": True, "SECRET_KEY": "b", "MAILCORE_SERVICES": svc,
                          "MAILCORE_API_RATE_LIMIT": "1000000/minute"})  # fmt: skip
        env = ConsoleEnv(app, svc, office)
        secret = ApiTokens(svc.history.engine, svc.history).create("bench", "admin", by="b")[1]
        api = app.test_client()
        auth = {"Authorization": f"Bearer {secret}"}

        template = Template("file", SUBJECT, BODY)

        def compose_one(i: int) -> object:
            return compose(template, DATA, "ann@example.com", f"F-{i}", sender="ops@example.com")

        def send_one(i: int) -> object:
            body = {"template": "file", "data": DATA, "to": ["ann@example.com"],
                    "identifier": f"F-{i}"}  # fmt: skip
            response = api.post("/api/v1/send", json=body, headers=auth)
            assert response.status_code == 201, response.get_json()
            return response

        composed = rate(compose_one, args.sends)
        sent = rate(send_one, args.sends)
        print(f"send: {args.sends} mails, SMTP on loopback (aiosmtpd)")
        print(f"  compose alone        {composed:8.1f} msgs/s")
        print(f"  POST /api/v1/send    {sent:8.1f} msgs/s  ratio {sent / composed:.2f} of compose")

        browser = env.client("olivia")
        total = svc.engine.failed_page(1, 1).total

        def html() -> object:
            response = browser.get("/failed/")
            assert response.status_code == 200
            return response

        def json_list() -> object:
            response = api.get("/api/v1/mail/failed/", headers=auth)
            assert response.status_code == 200 and response.get_json()["total"] == total
            return response

        page = timed(html, args.runs)
        listed = timed(json_list, args.runs)
        print(f"failed list: {total} failed mails (Maildir), first page of 50, {args.runs} runs")
        for label, values in (("HTML /failed/", page), ("JSON /api/v1/mail/failed/", listed)):
            print(f"  {label:26}p50 {statistics.median(values):7.1f} ms  p95 {p95(values):7.1f} ms")
        ratio = statistics.median(listed) / statistics.median(page)
        print(f"  ratio JSON / HTML (p50)   {ratio:.2f}")
        svc.close()


if __name__ == "__main__":
    main()
