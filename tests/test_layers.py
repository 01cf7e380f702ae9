"""The import rules between the layers, read from the source (the README's Architecture section).

- `mailcore.inbound` imports nothing of mailcore but `errors` and `ident`: it is pure.
- `mailcore.mailboxes` may add `inbound` (the one header reader); `mailcore.outbound` may add
  `config` and `mailboxes` (filing sent mail); `mailcore.store` may add `outbound` (a template
  version is checked by the template engine before it is saved); `mailcore.security` may
  import `config`, `inbound`, `outbound` and `store` (it unwraps before extracting, signs and
  encrypts composed mail, reads the key store), and nothing but `processing` and the command
  line imports it.
- `mailcore.ingress` (push ingress) stores into a mailbox and imports nothing else;
  `mailcore.oauth2` may import `config` and `store` (its tokens live in the history database);
  `mailcore.webhooks` may import `config`, `outbound`, `processing`, `security` and `store`
  (a webhook handler is a Registry handler whose reply is composed, sealed and sent).
- nothing in `mailcore` imports `console`, except the command line mounting the console's
  commands (`mailcore/cli.py`).
- `console` imports the public API (`mailcore`), `mailcore.processing` and `mailcore.errors`
  (CONSOLE_NOT_YET lists any exception; it is empty and may only stay so).
"""

from __future__ import annotations

import ast
from pathlib import Path

import mailcore

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = set(mailcore.__all__)
SHARED = {"mailcore.errors", "mailcore.ident", "mailcore.servers"}
ALLOWED = {
    "inbound": {"mailcore.errors", "mailcore.ident", "mailcore.inbound"},  # pure
    "mailboxes": SHARED | {"mailcore.inbound", "mailcore.mailboxes"},
    "outbound": SHARED | {"mailcore.config", "mailcore.mailboxes", "mailcore.outbound"},
    "store": SHARED | {"mailcore.outbound", "mailcore.store"},
    "security": SHARED
    | {"mailcore.config", "mailcore.inbound", "mailcore.outbound", "mailcore.store"}
    | {"mailcore.security"},
    "ingress": SHARED | {"mailcore.mailboxes", "mailcore.ingress"},
    "oauth2": SHARED | {"mailcore.config", "mailcore.store", "mailcore.oauth2"},
    "webhooks": SHARED
    | {"mailcore.config", "mailcore.outbound", "mailcore.processing", "mailcore.store"}
    | {"mailcore.security", "mailcore.webhooks"},
}
CONSOLE_ALLOWED = ("mailcore", "mailcore.processing", "mailcore.errors")
# What the console still reaches behind the public API; each should move behind it.
CONSOLE_NOT_YET: set[str] = set()


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; `from x import y` gives x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "mailcore":
            found.update(f"mailcore.{alias.name}" for alias in node.names)  # a name or a module
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in ("mailcore", "console")}


def allowed(name: str, prefixes: set[str] | tuple[str, ...]) -> bool:
    """Whether `name` is one of `prefixes` or inside one; "mailcore" stands for the package
    root and its public names only (`from mailcore import Engine`), not for every module."""
    if "mailcore" in prefixes and (name == "mailcore" or name.removeprefix("mailcore.") in PUBLIC):
        return True
    return any(p != "mailcore" and (name == p or name.startswith(p + ".")) for p in prefixes)


def test_each_layer_imports_only_what_it_may() -> None:
    wrong = []
    for layer, prefixes in ALLOWED.items():
        for path in sorted((ROOT / "mailcore" / layer).rglob("*.py")):
            wrong += [
                f"{path.relative_to(ROOT)}: {n}" for n in imports(path) if not allowed(n, prefixes)
            ]
    assert wrong == []


def test_mailcore_never_imports_the_console() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "mailcore").rglob("*.py"))
        if path != ROOT / "mailcore" / "cli.py"
        for name in imports(path)
        if name.split(".")[0] == "console"
    ]
    assert wrong == []


def test_the_console_reaches_mailcore_through_its_public_api() -> None:
    used = {
        name
        for path in sorted((ROOT / "console").rglob("*.py"))
        for name in imports(path)
        if name.split(".")[0] == "mailcore" and not allowed(name, CONSOLE_ALLOWED)
    }
    assert used <= CONSOLE_NOT_YET, f"new imports behind the public API: {used - CONSOLE_NOT_YET}"
    assert used >= CONSOLE_NOT_YET, f"no longer used, take off the list: {CONSOLE_NOT_YET - used}"


def test_the_rules_catch_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from mailcore.store.history import History\nimport console.operator\n")
    assert imports(module) == {"mailcore.store.history", "console.operator"}
    assert not allowed("mailcore.store.history", ALLOWED["inbound"])
    assert allowed("mailcore.inbound.headers", ALLOWED["mailboxes"])
    assert not allowed("mailcore.Engine", ALLOWED["inbound"])  # the root is no way around it
    assert allowed("mailcore.Engine", CONSOLE_ALLOWED)
    assert not allowed("mailcore.store.db", CONSOLE_ALLOWED)
