"""`mailcore render` and `mailcore send` from the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from email import message_from_string, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailcore.cli import main
from tests.mailcore.smtp_server import smtp_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    template = tmp_path / "ready.md"
    template.write_text("Subject: Vehicle {{ plate }}\n\nDear {{ owner }},\n\n**{{ plate }}**\n")
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"plate": "AB-123", "owner": "Zoë"}), encoding="utf-8")
    return template, data


def run(*args: str, **kw: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), **kw)  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


def test_render_prints_the_whole_message(files: tuple[Path, Path]) -> None:
    template, data = files
    code, out, _ = run("render", str(template), "--data", str(data), "--id", "a74e22bb")
    assert code == 0
    msg = message_from_string(out, policy=policy.default)
    assert msg["Subject"] == "[a74e22bb] Vehicle AB-123"
    assert msg.get_content_type() == "multipart/alternative"


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("text", "Dear Zoë,\n\n**AB-123**\n"),
        ("subject", "[preview] Vehicle AB-123\n"),
    ],
)
def test_render_prints_one_part(files: tuple[Path, Path], part: str, expected: str) -> None:
    template, data = files
    code, out, _ = run("render", str(template), "--data", str(data), "--part", part)
    assert (code, out) == (0, expected)


def test_render_json_and_html_parts(files: tuple[Path, Path]) -> None:
    template, data = files
    _, out, _ = run("render", str(template), "--data", str(data), "--part", "json")
    assert json.loads(out) == {"plate": "AB-123", "owner": "Zoë"}
    _, out, _ = run("render", str(template), "--data", str(data), "--part", "html")
    assert out.startswith("<!DOCTYPE html>") and "<strong>AB-123</strong>" in out


def test_problems_point_at_file_lines(tmp_path: Path) -> None:
    template = tmp_path / "bad.md"
    template.write_text("Subject: Hi {{ who }}\n\nline 3\n{{ nope }}\n<script>x</script>\n")
    code, _, err = run("render", str(template))
    assert code == 1
    lines = err.splitlines()
    assert f"{template}:1: undefined: undefined placeholder {{{{ who }}}}" in lines
    assert f"{template}:4: undefined: undefined placeholder {{{{ nope }}}}" in lines
    assert f"{template}:5: unsafe: <script> element removed" in lines


def test_example_template_renders_cleanly() -> None:
    code, out, err = run(
        "render",
        str(EXAMPLES / "vehicle-ready.md"),
        "--data",
        str(EXAMPLES / "vehicle-ready.json"),
        "--part",
        "text",
    )
    assert (code, err) == (0, "")
    assert "| **Total** | **354.90 €** |" in out


def test_send_delivers_through_smtp(files: tuple[Path, Path]) -> None:
    template, data = files
    with smtp_server() as server:
        code, _, err = run(
            "send",
            str(template),
            "--data",
            str(data),
            "--to",
            "p@garage.example",
            "--id",
            "a74e22bb",
            "--from",
            "Acme <ops@acme.example>",
            "--domain",
            "acme.example",
            "--smtp-host",
            server.host,
            "--smtp-port",
            str(server.port),
            "--plain",
        )
    assert code == 0, err
    (got,) = server.recorder.messages
    assert got.rcpt_tos == ["p@garage.example"]
    assert b"Reply-To: reply+a74e22bb@acme.example" in got.data
    assert b"Auto-Submitted: auto-generated" in got.data


def test_send_reports_refusal_and_missing_password(files: tuple[Path, Path]) -> None:
    template, data = files
    base = [
        "send",
        str(template),
        "--data",
        str(data),
        "--to",
        "nobody@garage.example",
        "--id",
        "a74e22bb",
        "--from",
        "ops@acme.example",
        "--domain",
        "acme.example",
    ]
    with smtp_server() as server:
        server.recorder.refuse.add("nobody@garage.example")
        code, _, err = run(
            *base, "--smtp-host", server.host, "--smtp-port", str(server.port), "--plain"
        )
    assert code == 1 and "nobody@garage.example (550" in err
    code, _, err = run(
        *base, "--smtp-host", "127.0.0.1", "--user", "ops", env={"MAILCORE_SMTP_PASSWORD": None}
    )
    assert code == 2 and "MAILCORE_SMTP_PASSWORD" in err


def send_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mailcore send` in a process of its own, with only `env`'s MAILCORE_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "mailcore"), "send", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_send_takes_server_sender_and_domain_from_the_config(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    template, data = files
    base = [str(template), "--data", str(data), "--to", "p@garage.example", "--id", "a74e22bb"]
    with smtp_server() as server:
        config = tmp_path / "mailcore.toml"
        config.write_text(
            f'[ident]\ndomain = "fleet.example"\n\n[smtp]\n'
            f'url = "smtp://{server.host}:{server.port}/?security=plain"\n'
            f'sender = "Fleet <robot@fleet.example>"\n'
        )
        by_file = send_cli(*base, "--config", str(config))
        by_env = send_cli(*base, env={"MAILCORE_CONFIG": str(config)})
        overridden = send_cli(
            *base, "--from", "ops@acme.example", "--domain", "acme.example",
            env={"MAILCORE_SMTP_URL": f"smtp://{server.host}:{server.port}/?security=plain"},
        )  # fmt: skip
    assert by_file.returncode == 0, by_file.stderr
    assert by_env.returncode == 0, by_env.stderr
    assert overridden.returncode == 0, overridden.stderr
    first, second, third = server.recorder.messages
    for got in (first, second):  # VERP: the envelope sender is the mail's bounce address
        assert re.fullmatch(r"bounce\+a74e22bb\.[0-9a-f]+@fleet\.example", got.mail_from)
        assert b"From: Fleet <robot@fleet.example>" in got.data
        assert b"Reply-To: reply+a74e22bb@fleet.example" in got.data
    assert re.fullmatch(r"bounce\+a74e22bb\.[0-9a-f]+@acme\.example", third.mail_from)
    assert b"From: ops@acme.example" in third.data
    assert b"Reply-To: reply+a74e22bb@acme.example" in third.data


def test_send_without_a_server_or_sender_names_the_setting(files: tuple[Path, Path]) -> None:
    template, data = files
    base = [str(template), "--data", str(data), "--to", "p@garage.example", "--id", "a74e22bb"]
    no_server = send_cli(*base, "--from", "ops@acme.example")
    assert no_server.returncode == 1
    assert "no SMTP server: pass --smtp-host, or set url in the [smtp] table" in no_server.stderr
    no_sender = send_cli(*base, env={"MAILCORE_SMTP_URL": "smtp://127.0.0.1:9/?security=plain"})
    assert no_sender.returncode == 1
    assert "no sender: pass --from, or set sender in the [smtp] table" in no_sender.stderr


def test_send_files_the_sent_mail_in_the_configured_mailbox(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    from mailcore.mailboxes.maildir import MaildirMailbox

    template, data = files
    base = [str(template), "--data", str(data), "--to", "p@garage.example", "--id", "a74e22bb"]
    maildir = tmp_path / "mail"
    with smtp_server() as server:
        config = tmp_path / "mailcore.toml"
        config.write_text(
            f'maildir = "{maildir}"\n\n[smtp]\n'
            f'url = "smtp://{server.host}:{server.port}/?security=plain"\n'
            f'sender = "Fleet <robot@fleet.example>"\nsent_folder = "Sent"\n'
        )
        by_setting = send_cli(*base, "--config", str(config))
        by_option = send_cli(*base, "--config", str(config), "--sent-folder", "Archive")
    assert by_setting.returncode == 0, by_setting.stderr
    assert by_option.returncode == 0, by_option.stderr
    first, second = server.recorder.messages
    box = MaildirMailbox(maildir)
    try:
        filed = box.fetch("Sent", box.uids("Sent"))
        archived = box.fetch("Archive", box.uids("Archive"))
    finally:
        box.close()
    # The message that went out, once each, in the folder asked for.
    assert [_message_id(m) for m in filed.values()] == [_message_id(first.data)]
    assert [_message_id(m) for m in archived.values()] == [_message_id(second.data)]


def _message_id(raw: bytes) -> str:
    return str(message_from_string(raw.decode(), policy=policy.default)["Message-ID"])


# -- languages: NAME.<tag>.md beside the template; --lang over the data's `language` ------


@pytest.fixture
def languages(files: tuple[Path, Path]) -> tuple[Path, Path]:
    """ready.md (English) with ready.fr.md and ready.de.md beside it."""
    template, data = files
    (template.parent / "ready.fr.md").write_text(
        "Subject: Véhicule {{ plate }} prêt\n\nBonjour {{ owner }},\n", encoding="utf-8"
    )
    (template.parent / "ready.de.md").write_text(
        "Subject: Fahrzeug {{ plate }} fertig\n\nHallo {{ owner }},\n", encoding="utf-8"
    )
    (template.parent / "ready.notes.md").write_text("not a language\n")  # ignored: no tag
    return template, data


def subject_and_lang(*args: str) -> tuple[str, str, str]:
    """(subject, the HTML page's lang, stderr) of `mailcore render ARGS`."""
    code, out, err = run("render", *args, "--part", "message")
    assert code == 0, err
    msg = message_from_string(out, policy=policy.default)
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    lang = html.split('<html lang="', 1)[1].split('"', 1)[0]
    return str(msg["Subject"]), lang, err


def test_render_lang_picks_the_variant_file(languages: tuple[Path, Path]) -> None:
    template, data = languages
    assert subject_and_lang(str(template), "--data", str(data))[:2] == (
        "[preview] Vehicle AB-123",
        "en",
    )
    subject, lang, err = subject_and_lang(str(template), "--data", str(data), "--lang", "fr")
    assert (subject, lang, err) == ("[preview] Véhicule AB-123 prêt", "fr", "")
    subject, lang, _ = subject_and_lang(str(template), "--data", str(data), "--lang", "fr_CA")
    assert (subject, lang) == ("[preview] Véhicule AB-123 prêt", "fr")  # fr-ca falls back


def test_the_datas_language_picks_and_lang_wins_over_it(
    languages: tuple[Path, Path], tmp_path: Path
) -> None:
    template, _ = languages
    german = tmp_path / "german.json"
    german.write_text(json.dumps({"plate": "AB-123", "owner": "Zoë", "language": "de"}))
    assert subject_and_lang(str(template), "--data", str(german))[0] == (
        "[preview] Fahrzeug AB-123 fertig"
    )
    subject, lang, _ = subject_and_lang(str(template), "--data", str(german), "--lang", "fr")
    assert (subject, lang) == ("[preview] Véhicule AB-123 prêt", "fr")


def test_a_language_without_its_file_gets_the_default_and_says_so(
    languages: tuple[Path, Path],
) -> None:
    template, data = languages
    subject, lang, err = subject_and_lang(str(template), "--data", str(data), "--lang", "it")
    assert subject == "[preview] Vehicle AB-123"
    assert f"{template}: no it variant (ready.it.md): the default is used" in err
    code, _, err = run("render", str(template), "--lang", "not a language")
    assert code == 2 and "is not a language tag" in err


def test_a_variants_problems_point_at_its_own_file(languages: tuple[Path, Path]) -> None:
    template, data = languages
    french = template.parent / "ready.fr.md"
    french.write_text("Subject: Véhicule {{ plate }}\n\nBonjour\n{{ nope }}\n", encoding="utf-8")
    code, _, err = run("render", str(template), "--data", str(data), "--lang", "fr")
    assert code == 1
    assert f"{french}:4: undefined: undefined placeholder {{{{ nope }}}}" in err.splitlines()
    assert run("render", str(template), "--data", str(data))[0] == 0  # English is fine


def test_send_lang_sends_the_variant(languages: tuple[Path, Path]) -> None:
    template, data = languages
    with smtp_server() as server:
        code, _, err = run(
            *("send", str(template), "--data", str(data), "--lang", "fr"),
            *("--to", "p@garage.example", "--id", "a74e22bb", "--from", "ops@acme.example"),
            *("--smtp-host", server.host, "--smtp-port", str(server.port), "--plain"),
        )
    assert code == 0, err
    (got,) = server.recorder.messages
    msg = message_from_string(got.data.decode(), policy=policy.default)
    assert msg["Subject"] == "[a74e22bb] Véhicule AB-123 prêt"
    assert (
        "Bonjour Zoë"
        in next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
    )
