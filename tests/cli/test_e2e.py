"""End to end: the real `shoal` CLI in a subprocess against a real shoald and busybox containers.

Each test gets its own SHOAL_ROOT/SHOAL_RUN with busybox:latest imported; the
daemon is stopped and every container, mount and directory removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from conftest import REPO, launcher_argv

pytestmark = pytest.mark.root

QUICKSTART = REPO / "examples" / "compose" / "quickstart"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Env:
    """One isolated shoal installation: dirs, a daemon we started, and a way to run the CLI."""

    def __init__(self, rootfs: str):
        from engine.images.archive import import_rootfs
        from engine.images.store import ImageStore
        self.root = tempfile.mkdtemp(prefix="shoal-cli-root-")
        self.run_dir = tempfile.mkdtemp(prefix="shoal-cli-run-")
        import_rootfs(ImageStore(os.path.join(self.root, "images")), rootfs, "busybox:latest")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "SHOAL_"))}
        self.env.update(PYTHONPATH=str(REPO), SHOAL_ROOT=self.root, SHOAL_RUN=self.run_dir)
        self.daemon: subprocess.Popen | None = None

    def start_daemon(self) -> None:
        log = open(os.path.join(self.root, "shoald.log"), "ab")
        self.daemon = subprocess.Popen([sys.executable, "-m", "orchestrator.daemon"], env=self.env,
                                       stdout=log, stderr=log, start_new_session=True, cwd=str(REPO))
        log.close()

    def shoal(self, *args: str, cwd: str | None = None, stdin: str | None = None,
              timeout: float = 90, autostart: bool = False) -> subprocess.CompletedProcess:
        env = dict(self.env) if autostart else dict(self.env, SHOAL_NO_AUTOSTART="1")
        return subprocess.run(launcher_argv(*args), cwd=cwd, env=env, input=stdin, capture_output=True,
                              text=True, errors="replace", timeout=timeout)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.shoal("version").returncode == 0 and \
                    os.path.exists(os.path.join(self.run_dir, "shoald.sock")):
                return
            time.sleep(0.1)
        raise RuntimeError("shoald did not start")

    def daemon_pids(self) -> list[int]:
        """Daemons this test's CLI started (autostart): found by their SHOAL_RUN."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if f"SHOAL_RUN={self.run_dir}".encode() in environ and b"orchestrator.daemon" in cmdline:
                pids.append(int(entry))
        return pids

    def close(self) -> None:
        for cwd in getattr(self, "projects", []):
            try:
                self.shoal("down", "-v", "-t", "0", cwd=cwd, timeout=60)
            except Exception:  # noqa: BLE001 - best effort before the hard cleanup below
                pass
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(30)
        for pid in self.daemon_pids():
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)
        from engine.api import Engine
        engine = Engine(self.root, self.run_dir)
        for info in engine.list():
            try:
                engine.remove(info.id, force=True)
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _fetch_or_skip(port: int) -> str:
    """The body on a published port; skips when another shoal root on this host (a parallel test
    run) rewrote the shared nft table `inet shoal` and our rule is gone."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            return opener.open(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
        except OSError:
            rules = subprocess.run(["nft", "list", "table", "inet", "shoal"], capture_output=True,
                                   text=True).stdout
            if f"dport {port}" not in rules:
                pytest.skip("another shoal daemon on this host rewrote the shared nft table 'inet shoal'")
            time.sleep(0.2)
    raise AssertionError(f"published port {port} never answered")


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def env(busybox_rootfs):
    e = Env(busybox_rootfs)
    e.projects = []
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def quickstart(tmp_path) -> tuple[str, int]:
    """A copy of examples/compose/quickstart published on a free loopback port."""
    dest = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, dest)
    port = free_port()
    compose = dest / "compose.yaml"
    compose.write_text(compose.read_text().replace("127.0.0.1:8088:80", f"127.0.0.1:{port}:80"))
    return str(dest), port


def test_quickstart_up_ps_logs_exec_down(env, quickstart):
    cwd, port = quickstart
    env.start_daemon()
    env.wait_ready()
    env.projects.append(cwd)
    up = env.shoal("--progress", "plain", "up", "-d", "--wait", "--wait-timeout", "60", cwd=cwd, timeout=120)
    assert up.returncode == 0, up.stderr[-2000:]
    assert " Container quickstart-web-3  Started" in up.stderr or "quickstart-web-3" in up.stderr

    ps = env.shoal("ps", "--format", "json", cwd=cwd)
    rows = [json.loads(line) for line in ps.stdout.splitlines()]
    names = [r["Name"] for r in rows]
    assert names == sorted(names)
    assert {"quickstart-api-1", "quickstart-cache-1", "quickstart-web-1", "quickstart-web-2",
            "quickstart-web-3"} <= set(names)
    assert all(r["State"] == "running" for r in rows)
    assert "quickstart-migrate-1" in env.shoal("ps", "-a", cwd=cwd).stdout
    assert env.shoal("ps", "--services", cwd=cwd).stdout.split() == ["api", "cache", "web"]

    logs = env.shoal("logs", "--no-color", "migrate", cwd=cwd)
    assert "migrate-1  | migrated" in logs.stdout.splitlines()

    ex = env.shoal("exec", "-T", "api", "cat", "/www/schema", cwd=cwd)
    assert ex.returncode == 0 and ex.stdout == "schema v3\n"
    assert env.shoal("exec", "-T", "cache", "sh", "-c", "exit 3", cwd=cwd).returncode == 3
    piped = env.shoal("exec", "-T", "cache", "tr", "a-z", "A-Z", cwd=cwd, stdin="hello\n")
    assert piped.stdout == "HELLO\n"
    host = env.shoal("exec", "-T", "--index", "2", "web", "cat", "/www/index.html", cwd=cwd)
    assert host.stdout.startswith("web replica ")

    ls = env.shoal("ls", "--format", "json", cwd=cwd)
    assert json.loads(ls.stdout)[0]["Name"] == "quickstart"

    down = env.shoal("--progress", "plain", "down", "-v", "-t", "1", cwd=cwd)
    assert down.returncode == 0, down.stderr
    assert env.shoal("ps", "-a", "-q", cwd=cwd).stdout == ""
    assert env.shoal("ls", "-q", cwd=cwd).stdout == ""


def test_autostart_attached_up_exit_code_from(env, tmp_path):
    proj = tmp_path / "oneshot"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: oneshot\nservices:\n"
        "  a:\n    image: busybox:latest\n    command: [sh, -c, 'echo hello from a; sleep 30']\n"
        "  b:\n    image: busybox:latest\n    command: [sh, -c, 'sleep 0.5; echo b done; exit 3']\n")
    env.projects.append(str(proj))
    r = env.shoal("--progress", "plain", "up", "--no-color", "--exit-code-from", "b", cwd=str(proj),
                  autostart=True, timeout=120)
    assert env.daemon_pids(), "the CLI should have started a daemon"
    assert r.returncode == 3, r.stdout[-2000:] + r.stderr[-2000:]
    out = r.stdout.splitlines()
    assert "a-1  | hello from a" in out and "b-1  | b done" in out
    assert "b-1 exited with code 3" in out
    assert "Aborting on container exit..." in out
    states = {row["Service"]: row["State"] for row in
              map(json.loads, env.shoal("ps", "-a", "--format", "json", cwd=str(proj)).stdout.splitlines())}
    assert states == {"a": "exited", "b": "exited"}


def test_published_port_serves_the_web_tier(env, quickstart):
    cwd, port = quickstart
    env.start_daemon()
    env.wait_ready()
    env.projects.append(cwd)
    up = env.shoal("up", "-d", "--wait", cwd=cwd, timeout=120)
    assert up.returncode == 0, up.stderr[-2000:]
    r = env.shoal("port", "web", "80", cwd=cwd)
    assert r.stdout.strip() == f"127.0.0.1:{port}", r.stderr
    ps = env.shoal("ps", "web", cwd=cwd).stdout
    assert f"127.0.0.1:{port}->80/tcp" in ps
    assert _fetch_or_skip(port).startswith("web replica ")


def _jobs_project(env, tmp_path) -> str:
    proj = tmp_path / "jobs"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: jobs\nservices:\n  tool:\n    image: busybox:latest\n    command: [sleep, '300']\n")
    env.start_daemon()
    env.wait_ready()
    env.projects.append(str(proj))
    assert env.shoal("up", "-d", cwd=str(proj)).returncode == 0
    return str(proj)


def test_run_one_off_passes_output_env_and_exit_code(env, tmp_path):
    cwd = _jobs_project(env, tmp_path)
    r = env.shoal("run", "-T", "-e", "WHO=shoal", "tool", "sh", "-c", "echo hi $WHO; exit 5", cwd=cwd)
    assert r.returncode == 5, r.stderr
    assert r.stdout == "hi shoal\n"
    assert "tool-run-" in env.shoal("ps", "-a", cwd=cwd).stdout


def test_run_rm_passes_exit_code_and_leaves_nothing(env, tmp_path):
    cwd = _jobs_project(env, tmp_path)
    r = env.shoal("run", "--rm", "-T", "tool", "sh", "-c", "echo bye; exit 7", cwd=cwd)
    assert r.stdout == "bye\n"
    assert "tool-run-" not in env.shoal("ps", "-a", cwd=cwd).stdout
    assert r.returncode == 7


def test_ctrl_c_on_attached_up_stops_gracefully_and_keeps_containers(env, tmp_path):
    proj = tmp_path / "long"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: long\nservices:\n  s:\n    image: busybox:latest\n"
        "    command: [sh, -c, 'trap \"echo got term; exit 0\" TERM; echo up; while true; do sleep 0.1; done']\n")
    env.start_daemon()
    env.wait_ready()
    env.projects.append(str(proj))
    proc = subprocess.Popen(launcher_argv("--progress", "plain", "up", "--no-color"), cwd=str(proj),
                            env=dict(env.env, SHOAL_NO_AUTOSTART="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while line.strip() != "s-1  | up" and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    lines = out.splitlines()
    assert lines[0] == "Gracefully stopping... (press Ctrl+C again to force)"
    assert "s-1  | got term" in lines and lines[-1] == "s-1 exited with code 0"
    rows = [json.loads(r) for r in env.shoal("ps", "-a", "--format", "json", cwd=str(proj)).stdout.splitlines()]
    assert [(r["Name"], r["State"]) for r in rows] == [("long-s-1", "exited")]


def test_attached_up_follows_a_restarting_container(env, tmp_path):
    proj = tmp_path / "crash"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: crash\nservices:\n  c:\n    image: busybox:latest\n    restart: 'on-failure:2'\n"
        "    command: [sh, -c, 'echo run; sleep 1; exit 1']\n")
    env.start_daemon()
    env.wait_ready()
    env.projects.append(str(proj))
    r = env.shoal("--progress", "quiet", "up", "--no-color", cwd=str(proj), timeout=90)
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stderr
    assert lines.count("c-1  | run") == 3, r.stdout
    assert lines[-1] == "c-1 exited with code 1"
    assert lines.count("c-1 exited with code 1 (restarting)") == 2


def test_lifecycle_verbs_on_a_real_container(env, tmp_path):
    cwd = _jobs_project(env, tmp_path)

    def states() -> list[tuple[str, str]]:
        out = env.shoal("ps", "-a", "--format", "{{.Name}} {{.State}}", cwd=cwd).stdout
        return [tuple(line.split()) for line in out.splitlines()]
    assert env.shoal("pause", cwd=cwd).returncode == 0
    assert states() == [("jobs-tool-1", "paused")]
    assert env.shoal("unpause", cwd=cwd).returncode == 0
    assert states() == [("jobs-tool-1", "running")]
    top = env.shoal("top", cwd=cwd).stdout.splitlines()
    assert top[0] == "jobs-tool-1" and any(line.endswith("sleep 300") for line in top[2:])
    stats = env.shoal("stats", "--no-stream", cwd=cwd).stdout.splitlines()
    assert stats[0].startswith("CONTAINER ID") and "jobs-tool-1" in stats[1]
    assert env.shoal("scale", "tool=2", cwd=cwd).returncode == 0
    assert states() == [("jobs-tool-1", "running"), ("jobs-tool-2", "running")]
    assert env.shoal("kill", "-s", "SIGKILL", cwd=cwd).returncode == 0
    assert states() == [("jobs-tool-1", "exited"), ("jobs-tool-2", "exited")]
    assert env.shoal("rm", cwd=cwd, stdin="n\n").returncode == 0
    assert len(states()) == 2
    assert env.shoal("rm", "-f", cwd=cwd).returncode == 0
    assert states() == []


def test_up_wait_on_an_unhealthy_service_fails_naming_it(env, tmp_path):
    proj = tmp_path / "sick"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: sick\nservices:\n  bad:\n    image: busybox:latest\n    command: [sleep, '300']\n"
        "    healthcheck:\n      test: [CMD, 'false']\n      interval: 1s\n      retries: 1\n      timeout: 1s\n")
    env.start_daemon()
    env.wait_ready()
    env.projects.append(str(proj))
    r = env.shoal("--progress", "plain", "up", "--wait", "--wait-timeout", "15", cwd=str(proj), timeout=90)
    assert r.returncode != 0
    assert "bad" in r.stderr.splitlines()[-1]
