"""The layering goes one way: CLI -> orchestrator -> engine; pure modules import no I/O layers."""

from __future__ import annotations

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def modules(*parts: str) -> list[pathlib.Path]:
    base = REPO.joinpath(*parts)
    return sorted(base.rglob("*.py")) if base.is_dir() else [base]


def offenders(files: list[pathlib.Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for f in files:
        for name in imports(f):
            if name.split(".")[0] in forbidden or name in forbidden:
                bad.append(f"{f.relative_to(REPO)} imports {name}")
    return bad


def test_engine_never_imports_the_orchestrator():
    assert offenders(modules("engine"), ("orchestrator",)) == []


def test_compose_model_needs_neither_engine_nor_asyncio():
    assert offenders(modules("orchestrator", "compose"), ("engine", "asyncio")) == []


@pytest.mark.parametrize("path", ["orchestrator/reconciler/plan.py", "orchestrator/reconciler/plan_scale.py",
                                  "orchestrator/reconciler/plan_deps.py", "orchestrator/reconciler/plan_down.py",
                                  "orchestrator/reconciler/restart.py", "orchestrator/reconciler/health.py"])
def test_planning_is_pure(path):
    assert offenders([REPO / path], ("engine", "asyncio", "subprocess", "socket")) == []


def test_workqueue_knows_neither_engine_nor_compose():
    assert offenders([REPO / "orchestrator/workqueue.py"], ("engine", "orchestrator.compose")) == []
