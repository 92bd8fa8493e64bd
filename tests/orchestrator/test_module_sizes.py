"""The reconciler's modules stay small: < 400 lines each, functions < 60, every public module has __all__."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "orchestrator"
MODULES = [ROOT / "clock.py", ROOT / "workqueue.py", ROOT / "to_spec.py", ROOT / "to_spec_files.py",
           ROOT / "testing.py", *sorted((ROOT / "reconciler").glob("*.py"))]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_budget(path):
    text = path.read_text()
    tree = ast.parse(text)
    assert len(text.splitlines()) < 400
    long = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > 60]
    assert long == []
    assert ast.get_docstring(tree), "module docstring"
    assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
               or isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "__all__"
               for n in tree.body)
