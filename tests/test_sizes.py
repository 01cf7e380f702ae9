"""No module over 500 lines and no class over 400 in mailcore/ and console/ (the house rule
that keeps each module to one job: past it, a module is split, not stretched)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 400


def sources() -> list[Path]:
    return sorted(p for d in ("mailcore", "console") for p in (ROOT / d).rglob("*.py"))


def test_no_module_is_over_500_lines() -> None:
    long = {}
    for path in sources():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            long[str(path.relative_to(ROOT))] = n
    assert long == {}


def test_no_class_is_over_400_lines() -> None:
    long = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                n = node.end_lineno - node.lineno + 1
                if n > MAX_CLASS_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = n
    assert long == {}
