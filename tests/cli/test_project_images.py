"""Project-wide `pull` and `images` (compose's forms), meant to be wired into images_cmd's verbs."""

from __future__ import annotations

import argparse

import pytest

from orchestrator.cli import info_cmd
from orchestrator.cli.main import ShoalError

COMPOSE = """\
name: demo
services:
  db:
    image: busybox:latest
  web:
    image: registry.local/web:1.2
  built:
    build: .
  pinned:
    image: local/only:1
    pull_policy: never
"""


def args(project, **kw):
    base = dict(files=[str(project)], project_name=None, project_directory=None, env_files=None,
                profiles=None, progress="plain", services=[], quiet=False, ignore_pull_failures=False,
                policy="always")
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.fixture
def compose(tmp_path):
    (tmp_path / "p").mkdir()
    path = tmp_path / "p" / "compose.yaml"
    path.write_text(COMPOSE)
    return path


@pytest.fixture
def pulls(monkeypatch, tmp_path):
    import engine.images.pull as pull_mod
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    calls = []

    def fake_pull(store, ref, **kw):
        calls.append(ref)
        if "fail" in ref or ref in fake_pull.failing:
            raise RuntimeError(f"manifest unknown: {ref}")
    fake_pull.failing = set()
    monkeypatch.setattr(pull_mod, "pull", fake_pull)
    return fake_pull, calls


def test_pull_pulls_each_service_image_except_build_and_never(compose, pulls, capsys):
    _, calls = pulls
    assert info_cmd.project_pull(args(compose)) == 0
    assert calls == ["busybox:latest", "registry.local/web:1.2"]
    err = capsys.readouterr().err.splitlines()
    assert " Image db  Pulling" in err and " Image web  Pulled" in err


def test_pull_named_services_only(compose, pulls):
    _, calls = pulls
    info_cmd.project_pull(args(compose, services=["web"]))
    assert calls == ["registry.local/web:1.2"]


def test_pull_failure_names_the_service(compose, pulls):
    fake, calls = pulls
    fake.failing.add("busybox:latest")
    with pytest.raises(ShoalError, match=r"service 'db': pull busybox:latest: manifest unknown"):
        info_cmd.project_pull(args(compose))
    assert calls == ["busybox:latest"]
    calls.clear()
    assert info_cmd.project_pull(args(compose, ignore_pull_failures=True)) == 0
    assert calls == ["busybox:latest", "registry.local/web:1.2"]


def test_pull_policy_missing_skips_present_images(compose, pulls, tmp_path, monkeypatch):
    _, calls = pulls
    monkeypatch.setattr(info_cmd, "_has", lambda store, image: image == "busybox:latest")
    info_cmd.project_pull(args(compose, policy="missing"))
    assert calls == ["registry.local/web:1.2"]


def test_images_lists_the_project_containers_images(fake, tmp_path, monkeypatch, capsys):
    from engine.images.archive import import_rootfs
    from engine.images.store import ImageStore
    monkeypatch.setenv("SHOAL_RUN", fake.run_dir)
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("SHOAL_NO_AUTOSTART", "1")
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "hostname").write_text("x\n")
    image = import_rootfs(ImageStore(str(tmp_path / "root" / "images")), str(rootfs), "busybox:latest")
    fake.containers["demo"][2]["Image"] = "gone/app:2"
    ns = argparse.Namespace(files=None, project_name="demo", project_directory=None, env_files=None,
                            profiles=None, services=[], quiet=False, format="table")
    assert info_cmd.project_images(ns) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CONTAINER", "REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]
    assert lines[1].split()[:4] == ["demo-db-1", "busybox", "latest", image.short_id]
    assert lines[3].split()[:4] == ["demo-web-2", "gone/app", "2", "<missing>"]
    assert fake.calls("GET", "/projects/demo/containers")[-1].query["all"] == "1"
    ns.quiet = True
    info_cmd.project_images(ns)
    assert capsys.readouterr().out.split() == [image.short_id]


def test_wants_project_decides_between_project_and_image_store(compose, tmp_path, monkeypatch):
    def ns(**kw):
        base = dict(files=None, project_name=None, project_directory=None, env_files=None, profiles=None)
        base.update(kw)
        return argparse.Namespace(**base)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert not info_cmd.wants_project(ns(), ["busybox:latest"])
    assert not info_cmd.wants_project(ns(), [])
    assert info_cmd.wants_project(ns(project_name="demo"), [])
    monkeypatch.chdir(compose.parent)
    assert info_cmd.wants_project(ns(), [])
    assert info_cmd.wants_project(ns(), ["db", "web"])
    assert not info_cmd.wants_project(ns(), ["busybox:latest"])
