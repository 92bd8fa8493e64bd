"""Fixtures for CLI tests: a fake daemon on a temp socket and helpers to run `shoal` against it."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import pytest

from fakedaemon import FakeDaemon, container

REPO = pathlib.Path(__file__).resolve().parents[2]

# Modules this piece adds; registered here until orchestrator/cli/main.py lists them.
VERB_MODULES = (
    "orchestrator.cli.up_cmd", "orchestrator.cli.down_cmd", "orchestrator.cli.ps_cmd",
    "orchestrator.cli.logs_cmd", "orchestrator.cli.exec_cmd", "orchestrator.cli.run_cmd",
    "orchestrator.cli.lifecycle_cmd", "orchestrator.cli.info_cmd", "orchestrator.cli.scale_cmd",
    "orchestrator.cli.events_cmd",
)

COMPOSE = """\
name: demo
services:
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
  web:
    image: busybox:latest
    command: ["httpd", "-f"]
    depends_on: [db]
    ports: ["127.0.0.1:8088:80"]
"""

LAUNCHER = (
    "import sys, orchestrator.cli.main as m\n"
    "m.COMMAND_MODULES = tuple(dict.fromkeys(m.COMMAND_MODULES + tuple(sys.argv[1].split(','))))\n"
    "sys.exit(m.main(sys.argv[2:]))\n"
)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def launcher_argv(*args: str) -> list[str]:
    """argv running the real CLI (with this piece's verbs registered) in a fresh interpreter."""
    return [sys.executable, "-c", LAUNCHER, ",".join(VERB_MODULES), *args]


def cli_env(run_dir: str, root_dir: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "SHOAL_"))}
    env.update(PYTHONPATH=str(REPO), SHOAL_RUN=run_dir, SHOAL_ROOT=root_dir, NO_COLOR="", **extra)
    env.pop("NO_COLOR")
    return env


@pytest.fixture
def project(tmp_path) -> pathlib.Path:
    """A two-service compose file named `demo`."""
    (tmp_path / "proj").mkdir()
    path = tmp_path / "proj" / "compose.yaml"
    path.write_text(COMPOSE)
    return path


@pytest.fixture
def fake(tmp_path):
    """A running fake daemon with `demo`'s three containers (db-1, web-1, web-2)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    daemon = FakeDaemon(str(run_dir))
    daemon.containers["demo"] = [container("demo", "db", 1), container("demo", "web", 1),
                                 container("demo", "web", 2)]
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture
def shoal(fake, project, tmp_path):
    """Run `shoal -f <project> ARGS` in a subprocess against the fake daemon."""
    def run(*args: str, stdin: str | None = None, files: bool = True, env: dict | None = None,
            timeout: float = 30) -> Result:
        argv = launcher_argv(*(["-f", str(project)] if files else []), *args)
        out = subprocess.run(argv, input=stdin, capture_output=True, text=True, errors="replace",
                             timeout=timeout,
                             env=cli_env(fake.run_dir, str(tmp_path / "root"),
                                         SHOAL_NO_AUTOSTART="1", **(env or {})),
                             cwd=str(project.parent))
        return Result(out.returncode, out.stdout, out.stderr)
    return run


@pytest.fixture
def cli(fake, project, tmp_path, monkeypatch, capsys):
    """Run `shoal -f <project> ARGS` in this process (fast; no TTY, no stdin)."""
    from orchestrator.cli import main as cli_main
    monkeypatch.setenv("SHOAL_RUN", fake.run_dir)
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("SHOAL_NO_AUTOSTART", "1")
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(cli_main, "COMMAND_MODULES",
                        tuple(dict.fromkeys(cli_main.COMMAND_MODULES + VERB_MODULES)))
    monkeypatch.chdir(project.parent)

    def run(*args: str, files: bool = True) -> Result:
        capsys.readouterr()
        rc = cli_main.main([*(["-f", str(project)] if files else []), *args])
        out = capsys.readouterr()
        return Result(rc, out.out, out.err)
    return run


__all__ = ["container", "launcher_argv", "cli_env", "Result", "VERB_MODULES", "COMPOSE"]
