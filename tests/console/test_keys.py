"""The admins' Keys page: import (file or pasted), list, remove; private keys never shown."""

from __future__ import annotations

import io
import subprocess

from tests.console.conftest import ConsoleEnv, csrf_token
from tests.mailcore.security.fixtures import material
from tests.mailcore.security.material import OURS, PARTNER, Material

__all__ = ["material"]


def test_only_admins_reach_the_keys(console_env: ConsoleEnv) -> None:
    assert console_env.client("olivia").get("/admin/keys/").status_code == 403
    assert console_env.client("arthur").get("/admin/keys/").status_code == 403
    page = console_env.client("ada").get("/admin/keys/")
    assert page.status_code == 200 and "No keys yet." in page.get_data(as_text=True)


def test_import_list_and_remove(console_env: ConsoleEnv, material: Material) -> None:
    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/keys/")
    ours = material.ours.pem + material.ours.key.read_bytes()
    response = admin.post(
        "/admin/keys/import",
        data={"file": (io.BytesIO(ours), "ours.pem"), "trusted": "1", "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    pasted = material.gpg_partner.public().decode()
    response = admin.post("/admin/keys/import", data={"text": pasted, "csrf_token": token})
    assert response.status_code == 302
    html = admin.get("/admin/keys/").get_data(as_text=True)
    assert OURS in html and PARTNER in html and material.gpg_partner.fingerprint in html
    assert "yes (ours)" in html and "encrypt only" in html  # the unchecked box: not trusted
    assert "PRIVATE KEY" not in html and material.ours.key.read_text()[40:90] not in html
    fpr = material.gpg_partner.fingerprint
    assert admin.post(f"/admin/keys/{fpr}/remove", data={"csrf_token": token}).status_code == 302
    after = admin.get("/admin/keys/").get_data(as_text=True)
    assert f'data-fingerprint="{fpr}"' not in after and "Removed" in after


def test_a_bad_file_is_refused_with_the_reason(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/keys/")
    response = admin.post("/admin/keys/import", data={"text": "hello", "csrf_token": token})
    assert response.status_code == 400
    assert "not a PEM certificate or an armored OpenPGP key" in response.get_data(as_text=True)


def test_send_a_test_is_encrypted_to_the_configured_key(
    console_env: ConsoleEnv, material: Material
) -> None:
    from mailcore import Settings, read_keys
    from tests.console.test_authoring import form
    from tests.mailcore.smtp_server import smtp_server

    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/keys/")
    admin.post("/admin/keys/import", data={"text": material.ours.pem.decode(), "csrf_token": token})
    (cert,) = read_keys(material.ours.pem)
    with smtp_server() as server:
        console_env.services.settings = Settings.from_mapping(
            {
                "smtp": {"url": f"smtp://{server.host}:{server.port}?security=plain",
                         "sender": "Registrations <registrations@example.com>"},
                "security": {"encrypt_to": {"erin@example.com": cert.fingerprint}},
                "database_url": "sqlite://",  # never opened: the console's database is used
            }
        )  # fmt: skip
        author = console_env.add_user("erin", "author", email="erin@example.com")
        html = author.post("/templates/test", data=form(author)).get_data(as_text=True)
        assert "Test sent to erin@example.com." in html
    raw = server.recorder.messages[0].data
    assert b"application/pkcs7-mime" in raw and b"X-Mailcore-Test: template registered" in raw
    opened = subprocess.run(
        ["openssl", "cms", "-decrypt", "-recip", str(material.ours.cert),
         "-inkey", str(material.ours.key)], input=raw, capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert b"registered" in opened.stdout
