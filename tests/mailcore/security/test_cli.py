"""`mailcore keys import|list|remove`, and `mailcore send` sealing per partner: what it sends,
openssl and gpg open."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailcore.cli import main
from tests.mailcore.security.material import OURS, Material
from tests.mailcore.smtp_server import smtp_server

ENV = {"MAILCORE_SECRET_KEY": "cli-secret", "MAILCORE_CONFIG": None}


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(config)], env=ENV)
    return result.exit_code, result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailcore.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path / "m.db"}"\n')
    return path


def test_import_list_remove(config: Path, material: Material, tmp_path: Path) -> None:
    ours = tmp_path / "ours.pem"
    ours.write_bytes(material.ours.pem + material.ours.key.read_bytes())
    pgp = tmp_path / "partner.asc"
    pgp.write_bytes(material.gpg_partner.public())
    assert run(config, "keys", "import", str(ours))[0] == 0
    code, out = run(config, "keys", "import", str(pgp), "--untrusted")
    assert code == 0 and material.gpg_partner.fingerprint in out and "untrusted" in out
    code, out = run(config, "keys", "list")
    assert code == 0 and "private key" in out and OURS in out
    assert "PRIVATE" not in out and material.ours.key.read_text()[40:80] not in out
    code, out = run(config, "keys", "remove", material.gpg_partner.fingerprint[:10])
    assert code == 0 and "removed openpgp" in out
    assert material.gpg_partner.fingerprint not in run(config, "keys", "list")[1]
    code, out = run(config, "keys", "remove", "DEADBEEF00")
    assert code == 1 and "no key has the fingerprint DEADBEEF00" in out


def test_send_encrypts_to_the_partner(config: Path, material: Material, tmp_path: Path) -> None:
    recipient = tmp_path / "recipient.pem"
    recipient.write_bytes(material.ours.pem)  # the "partner" here is the RSA certificate
    signer = tmp_path / "signer.pem"
    signer.write_bytes(material.partner.pem + material.partner.key.read_bytes())
    for path in (recipient, signer):
        assert run(config, "keys", "import", str(path))[0] == 0
    listing = run(config, "keys", "list")[1].splitlines()
    template, data = tmp_path / "t.md", tmp_path / "d.json"
    template.write_text("Subject: Plate {{ plate }}\n\n**{{ plate }}**\n")
    data.write_text('{"plate": "AB-123"}')
    with smtp_server() as server:
        config.write_text(
            config.read_text()
            + f'[smtp]\nurl = "smtp://{server.host}:{server.port}/?security=plain"\n'
            + 'sender = "ops@acme.example"\n'
            + f'[security]\nsmime_sign = "{_find(listing, "partner")}"\n'
            + f'[security.encrypt_to]\n"{OURS}" = "{_find(listing, "ours")}"\n'
        )
        code, out = run(config, "send", str(template), "--data", str(data), "--to", OURS,
                        "--id", "VEH-9")  # fmt: skip
    assert code == 0, out
    sent = server.recorder.messages[0].data
    assert b"AB-123" not in sent.split(b"\r\n\r\n", 1)[1] and b"pkcs7-mime" in sent
    opened = subprocess.run(
        ["openssl", "cms", "-decrypt", "-recip", str(material.ours.cert),
         "-inkey", str(material.ours.key)], input=sent, capture_output=True, timeout=30,
        check=True,
    ).stdout  # fmt: skip
    verified = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "SMIME", "-CAfile", str(material.ca.cert)],
        input=opened, capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert b"AB-123" in verified.stdout


def _find(listing: list[str], name: str) -> str:
    """The fingerprint on the `keys list` line of certificate CN=name."""
    return next(line.split()[1] for line in listing if f"CN={name} <" in line)
