"""engine/errors.py's rule, checked on the source: a text sent from more than one place lives in
errors.py; a text one raise site alone sends may stay inline there.

The check reads every engine module with ``ast`` and collects every string literal (f-strings with their holes as ``{}``) that starts
with one of Redis's error codes; docstrings are skipped.  It fails when one text is written
twice, or when a literal repeats a text errors.py already names.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

from engine import errors

ROOT = Path(errors.__file__).parent
CODES = ("ERR", "WRONGTYPE", "NOGROUP", "BUSYGROUP", "NOPERM", "WRONGPASS", "NOSCRIPT", "BUSY", "BUSYKEY",
         "UNKILLABLE", "NOTBUSY", "NOAUTH", "EXECABORT", "INVALIDOBJ", "OOM", "MISCONF", "LOADING", "NOPROTO",
         "READONLY", "UNBLOCKED")


def _checked_files() -> list[Path]:
    """Every engine module but the catalogue itself (and the recipes, which are client code)."""
    return [p for p in sorted(ROOT.rglob("*.py")) if p.name != "errors.py" and "recipes" not in p.parts]


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _is_error_text(text: str) -> bool:
    head = text.lstrip("-").split(" ", 1)
    return len(head) == 2 and head[0] in CODES and bool(head[1].strip())  # not a bare "ERR " prefix


def _error_literals(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in inner:
            continue
        text = _text(node)
        if text is not None and _is_error_text(text):
            out.append((text, node.lineno))
    return out


def _catalogue() -> set[str]:
    return {v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str) and _is_error_text(v)}


def test_the_checker_sees_the_command_modules_texts():
    """The scan itself finds texts (a broken walker would pass every file)."""
    found = [t for p in _checked_files() for t, _ in _error_literals(p)]
    assert len(found) > 100
    assert any(t.startswith("ERR XGROUP") or t.startswith("ERR Unknown") for t in found)
    assert len(_catalogue()) > 40


def test_no_error_text_is_written_twice():
    seen: dict[str, list[str]] = collections.defaultdict(list)
    for path in _checked_files():
        for text, line in _error_literals(path):
            seen[text].append(f"{path.relative_to(ROOT.parent)}:{line}")
    repeated = {t: where for t, where in seen.items() if len(where) > 1}
    assert repeated == {}, "texts sent from more than one place belong in engine/errors.py"


def test_no_literal_repeats_a_named_text():
    named = _catalogue()
    inline = {f"{path.relative_to(ROOT.parent)}:{line}": text
              for path in _checked_files() for text, line in _error_literals(path) if text in named}
    assert inline == {}, "use the name engine/errors.py gives these texts"
