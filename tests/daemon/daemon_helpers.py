"""Helpers for shoald tests: a daemon subprocess, compose loading, teardown."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

from orchestrator.daemon.client import ApiError, Client

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(tmpdir: str, name: str, yaml_text: str) -> dict[str, Any]:
    """The normalised project dict the CLI would send for ``yaml_text``."""
    from orchestrator.compose.loader import ProjectOptions, load_project
    path = os.path.join(tmpdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(textwrap.dedent(yaml_text))
    loaded = load_project(ProjectOptions(files=[path], project_name=name, cwd=tmpdir, os_env={}))
    return {"project": loaded.data, "working_dir": loaded.working_dir, "config_files": loaded.config_files}


class DaemonProc:
    """A shoald subprocess and a client to it."""

    def __init__(self, root: str, run_dir: str) -> None:
        self.root, self.run_dir = root, run_dir
        self.socket = os.path.join(run_dir, "shoald.sock")
        self.client = Client(self.socket, timeout=120)
        self.proc: subprocess.Popen | None = None
        self.log = os.path.join(root, "shoald.log")

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=REPO)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "orchestrator.daemon", "--root", self.root,
                                          "--run-dir", self.run_dir, "--log-level", "info"],
                                         cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.client.request("GET", "/_ping") == "OK":
                    return
            except (OSError, ApiError):
                time.sleep(0.05)
        raise RuntimeError(f"shoald did not start; log:\n{open(self.log).read()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)
        self.proc = None


def teardown(d: DaemonProc) -> None:
    try:
        if d.proc is not None:
            for p in d.client.request("GET", "/projects", all=1):
                d.client.op(p["name"], "down", {"remove_volumes": True, "timeout": 1})
    except Exception:
        pass
    d.kill(signal.SIGTERM)
    from engine.api import Engine
    engine = Engine(d.root, d.run_dir)
    for info in engine.list():
        try:
            engine.remove(info.id, force=True)
        except Exception:
            pass
    _clean_networks(d)
    if os.environ.get("SHOALD_TEST_LOG"):  # keep the daemon's log for debugging
        shutil.copy(d.log, os.environ["SHOALD_TEST_LOG"])
    shutil.rmtree(d.run_dir, ignore_errors=True)
    shutil.rmtree(d.root, ignore_errors=True)


def _clean_networks(d: DaemonProc) -> None:
    """Whatever a failed test left in this root's network state: endpoints, bridges, netns files."""
    if not os.path.exists(os.path.join(d.root, "network")) and not os.path.isdir(os.path.join(d.run_dir, "netns")):
        return
    from engine.network import NetworkManager
    from engine.network.netns import list_netns, remove_netns
    nm = NetworkManager(d.root, d.run_dir)
    for ep in nm.endpoints():
        nm.detach(ep.container_id, ep.network)
    for net in nm.networks():
        nm.remove_network(net.name)
    for path in list_netns(nm.netns_dir):
        remove_netns(path)
    nm.close()
