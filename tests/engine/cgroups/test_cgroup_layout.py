"""Shape checks for the cgroup and security packages: size budgets, seams, the probe's monopoly."""

from __future__ import annotations

import ast
import pathlib

ENGINE = pathlib.Path(__file__).resolve().parents[3] / "engine"
MINE = sorted([*(ENGINE / "cgroups").rglob("*.py"), *(ENGINE / "security").rglob("*.py"), ENGINE / "volumes.py"])


def test_modules_and_functions_stay_small():
    for path in MINE:
        text = path.read_text()
        if path.name != "default_profile.py":  # a data table
            assert len(text.splitlines()) < 400, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno < 60, f"{path}:{node.name}"


def test_every_module_declares_its_public_names():
    for path in MINE:
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), path
        assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
                   for n in tree.body), path


def test_protocols_document_lifecycle_and_vocabulary():
    tree = ast.parse((ENGINE / "cgroups" / "base.py").read_text())
    protocols = [n for n in tree.body if isinstance(n, ast.ClassDef)
                 and any(getattr(b, "id", "") == "Protocol" for b in n.bases)]
    assert {p.name for p in protocols} == {"Cgroup", "CgroupDriver"}
    for p in protocols:
        assert len(ast.get_docstring(p).splitlines()) >= 8, p.name


def test_only_the_probe_knows_how_to_recognise_cgroup2():
    hits = [p for p in MINE if "cgroup.controllers" in p.read_text() or "cgroup2" in p.read_text()]
    assert [p.name for p in hits] == ["probe.py"]
