"""`up` builds what it needs, like docker compose, and a rebuilt image recreates its containers."""

from __future__ import annotations

import json

import pytest

from test_e2e import Env  # noqa: F401 - the fixture's class
from test_e2e import env  # noqa: F401 - pytest fixture

pytestmark = pytest.mark.root

COMPOSE = """
services:
  app:
    build: ./app
    command: ["sh", "-c", "cat /version; exec sleep 300"]
    stop_grace_period: 1s
"""


def write_app(root, version: str) -> None:
    app = root / "app"
    app.mkdir(exist_ok=True)
    (app / "Dockerfile").write_text("FROM busybox:latest\nCOPY version /version\n")
    (app / "version").write_text(version + "\n")


def container_ids(env, cwd) -> list[str]:
    ps = env.shoal("ps", "--format", "json", cwd=cwd)
    assert ps.returncode == 0, ps.stderr
    return [json.loads(line)["ID"] for line in ps.stdout.splitlines() if line.strip()]


def test_up_builds_missing_images_and_recreates_after_a_rebuild(env, tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    write_app(tmp_path, "v1")
    cwd = str(tmp_path)
    env.start_daemon()
    env.wait_ready()
    env.projects.append(cwd)

    up = env.shoal("up", "-d", "--wait", cwd=cwd, timeout=180)
    assert up.returncode == 0, up.stderr[-2000:]
    assert "built" in up.stderr  # the missing image was built first
    first = container_ids(env, cwd)
    assert len(first) == 1
    assert "v1" in env.shoal("logs", "app", cwd=cwd).stdout

    again = env.shoal("up", "-d", "--wait", cwd=cwd, timeout=180)
    assert again.returncode == 0 and "built" not in again.stderr  # image present: no build
    assert container_ids(env, cwd) == first  # nothing changed: nothing recreated

    write_app(tmp_path, "v2")
    rebuilt = env.shoal("up", "-d", "--wait", "--build", cwd=cwd, timeout=180)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    second = container_ids(env, cwd)
    assert len(second) == 1 and second != first  # a new image recreates the container
    assert "v2" in env.shoal("logs", "app", cwd=cwd).stdout

    no_build = env.shoal("up", "-d", "--no-build", "--build", cwd=cwd)
    assert no_build.returncode == 1 and "incompatible" in no_build.stderr
