"""Benchmark: the same compose stacks timed with shoal, docker-compose v1 and podman-compose, interleaved.

Stacks: 10 busybox services chained with ``depends_on`` and 50 independent ones, each in two
variants: ``sleep`` as the service's process (as PID 1 under Docker/Podman it ignores SIGTERM, so
their ``down`` waits the 10 s grace period) and a shell that exits on SIGTERM. Each case runs
``up -d`` then ``down`` with every tool in turn (the order rotates per round so host load hits
them alike), and prints absolute times and the ratios to shoal. Network setup: ``up -d`` of 10
independent services on the project's default network minus the same with ``network_mode: none``.

shoal runs a private daemon (temp SHOAL_ROOT/SHOAL_RUN, image from ``shoal image bootstrap
busybox``); docker-compose talks to ``DOCKER_HOST=unix://$ANCHOR_DIR/docker.sock`` and uses the
``bb:local`` image, podman-compose ``localhost/bb:local`` (both from ``/work/shared/tools/anchors-setup``).
A tool that is not installed (or whose engine does not answer) is skipped, and that is said.
Every command has a timeout (``--timeout``); a timed-out one is reported as ``>T`` and the
project is force-removed. Needs root. No traffic leaves the namespaces the tools create.
Usage: python3 bench/bench_compare.py [--rounds N] [--tools shoal,docker,podman] [--timeout S]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

__all__ = ["Tool", "Shoal", "DockerCompose", "PodmanCompose", "compose_text", "CASES", "main"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANCHOR_DIR = os.environ.get("ANCHOR_DIR", "/tmp/anchors")
SLEEP = '["sleep", "100000"]'
HANDLER = '["sh", "-c", "trap \'exit 0\' TERM; sleep 100000 & wait"]'
NOT_RUN = float("nan")
CLEAN_TIMEOUT = 300.0


def compose_text(image: str, n: int, chained: bool, command: str, network: bool = True) -> str:
    """A compose file of ``n`` busybox services, each depending on the previous one if ``chained``."""
    lines = ["services:"]
    for i in range(n):
        extra = f", depends_on: [s{i - 1}]" if chained and i else ""
        extra += "" if network else ", network_mode: none"
        lines.append(f"  s{i}: {{image: \"{image}\", command: {command}{extra}}}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    """One stack: name, size, chaining, service command, network on or off."""
    label: str
    n: int
    chained: bool
    command: str
    network: bool = True


CASES = [
    Case("10 chained, sleep (no TERM handler)", 10, True, SLEEP),
    Case("10 chained, exits on TERM", 10, True, HANDLER),
    Case("50 independent, sleep (no TERM handler)", 50, False, SLEEP),
    Case("50 independent, exits on TERM", 50, False, HANDLER),
    Case("10 independent, default network", 10, False, HANDLER),
    Case("10 independent, network_mode: none", 10, False, HANDLER, network=False),
]


@dataclass
class Tool:
    """A compose implementation: how to run ``up -d``/``down`` and force-clean a project."""
    name: str
    image: str
    timeout: float
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    why_not: str = ""

    def base(self, project: str, workdir: str) -> list[str]:
        """The command prefix for ``project`` whose compose.yaml is in ``workdir``."""
        raise NotImplementedError

    def run(self, argv: list[str], workdir: str, timeout: float | None = None) -> tuple[float, str]:
        """Run one command, return (seconds or +inf on timeout, error text or '')."""
        limit = timeout or self.timeout
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=workdir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        try:
            out, err = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            # the whole group: a compose tool's own children (podman run, ...) must not finish later
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return float("inf"), f"timed out after {limit:.0f} s"
        took = time.perf_counter() - t0
        return took, "" if p.returncode == 0 else (err or out).strip()[-300:]

    def up(self, project: str, workdir: str) -> tuple[float, str]:
        return self.run(self.base(project, workdir) + ["up", "-d"], workdir)

    def down(self, project: str, workdir: str) -> tuple[float, str]:
        return self.run(self.base(project, workdir) + ["down"], workdir)

    def clean(self, project: str, workdir: str) -> None:
        """Force-remove whatever of ``project`` is left (after a failure or a timeout)."""

    def close(self) -> None:
        """Stop anything the tool started for the benchmark."""


class Shoal(Tool):
    """shoal with a private daemon on a temp root, started and stopped here."""

    def __init__(self, timeout: float) -> None:
        super().__init__("shoal", "busybox", timeout)
        self.root = tempfile.mkdtemp(prefix="shoal-cmp-root-")
        self.run_dir = tempfile.mkdtemp(prefix="shoal-cmp-run-")
        self.env.update(SHOAL_ROOT=self.root, SHOAL_RUN=self.run_dir, SHOAL_NO_AUTOSTART="1",
                        PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH", "")) if p))
        self.daemon: subprocess.Popen | None = None
        self.cli = [sys.executable, "-m", "orchestrator.cli.main"] if not shutil.which("shoal") else ["shoal"]
        took, err = self.run(self.cli + ["image", "bootstrap", "busybox"], REPO)
        if err:
            self.why_not = f"image bootstrap failed: {err}"
            return
        log = open(os.path.join(self.root, "shoald.log"), "ab")
        self.daemon = subprocess.Popen([sys.executable, "-m", "orchestrator.daemon"], cwd="/", env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        sock = os.path.join(self.run_dir, "shoald.sock")
        for _ in range(200):
            if os.path.exists(sock):
                return
            time.sleep(0.05)
        self.why_not = "shoald did not create its socket within 10 s"

    def base(self, project: str, workdir: str) -> list[str]:
        return self.cli + ["-p", project]

    def clean(self, project: str, workdir: str) -> None:
        self.run(self.base(project, workdir) + ["down", "-t", "0"], workdir, CLEAN_TIMEOUT)

    def close(self) -> None:
        if self.daemon is not None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(20)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(5)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


class DockerCompose(Tool):
    """docker-compose v1 against the anchors' dockerd."""

    def __init__(self, timeout: float) -> None:
        super().__init__("docker-compose", "bb:local", timeout)
        self.env["DOCKER_HOST"] = f"unix://{ANCHOR_DIR}/docker.sock"
        if not shutil.which("docker-compose") or not shutil.which("docker"):
            self.why_not = "docker-compose or docker not installed (run anchors-setup)"
        elif self.run(["docker", "image", "inspect", self.image], "/")[1]:
            self.why_not = f"no dockerd answering on {self.env['DOCKER_HOST']} with image {self.image}"

    def base(self, project: str, workdir: str) -> list[str]:
        return ["docker-compose", "-p", project]

    def clean(self, project: str, workdir: str) -> None:
        self.run(self.base(project, workdir) + ["down", "-t", "0"], workdir, CLEAN_TIMEOUT)
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                             env=self.env, capture_output=True, text=True).stdout.split()
        if ids:
            self.run(["docker", "rm", "-f", *ids], "/", CLEAN_TIMEOUT)
        self.run(["docker", "network", "rm", f"{project}_default"], "/")


class PodmanCompose(Tool):
    """podman-compose (podman with runc) on the host's podman storage."""

    def __init__(self, timeout: float) -> None:
        super().__init__("podman-compose", "localhost/bb:local", timeout)
        if not shutil.which("podman-compose") or not shutil.which("podman"):
            self.why_not = "podman-compose or podman not installed (run anchors-setup)"
        elif self.run(["podman", "image", "exists", self.image], "/")[1]:
            self.why_not = f"podman has no image {self.image}"

    def base(self, project: str, workdir: str) -> list[str]:
        return ["podman-compose", "-p", project]

    def clean(self, project: str, workdir: str) -> None:
        ids = subprocess.run(["podman", "ps", "-aq", "--filter", f"label=io.podman.compose.project={project}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            self.run(["podman", "rm", "-f", "-t", "0", *ids], "/", CLEAN_TIMEOUT)
        self.run(["podman", "pod", "rm", "-f", f"pod_{project}"], "/", CLEAN_TIMEOUT)
        self.run(["podman", "network", "rm", "-f", f"{project}_default"], "/")


def run_case(tool: Tool, case: Case, work: str, index: int) -> tuple[float, float, str]:
    """``up -d`` then ``down`` of one case with one tool; always leaves the project removed."""
    project = f"cmp{index}{tool.name[0]}"
    workdir = os.path.join(work, f"{project}")
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "compose.yaml"), "w") as f:
        f.write(compose_text(tool.image, case.n, case.chained, case.command, case.network))
    up, err = tool.up(project, workdir)
    down, err2 = (NOT_RUN, "") if err and up != float("inf") else tool.down(project, workdir)
    if err or err2:
        tool.clean(project, workdir)
    return up, down, err or err2


def fmt(values: list[float]) -> str:
    """Median of the finite values (or '>T' / 'n/a'), in seconds."""
    finite = [v for v in values if v == v and v != float("inf")]
    if not finite:
        return "n/a" if not values or all(v != v for v in values) else "timeout"
    mark = "*" if len(finite) < len(values) else ""
    return f"{statistics.median(finite):.2f}{mark}"


def ratio(values: list[float], ref: list[float]) -> str:
    """tool / shoal median ratio, as 'N.Nx'."""
    a = [v for v in values if v == v and v != float("inf")]
    b = [v for v in ref if v == v and v != float("inf")]
    if not a or not b:
        return "-"
    return f"{statistics.median(a) / statistics.median(b):.1f}x"


def report(tools: list[Tool], results: dict[tuple[str, str], list[tuple[float, float]]]) -> None:
    """Absolute medians, ratios to shoal, the network setup difference, and the issue's targets."""
    print(f"\n{'case':<42} {'tool':<15} {'up -d s':>8} {'down s':>8} {'up/shoal':>9} {'down/shoal':>10}")
    for case in CASES:
        ref = results.get((case.label, "shoal"), [])
        for tool in tools:
            r = results.get((case.label, tool.name), [])
            ups, downs = [u for u, _ in r], [d for _, d in r]
            print(f"{case.label:<42} {tool.name:<15} {fmt(ups):>8} {fmt(downs):>8} "
                  f"{ratio(ups, [u for u, _ in ref]):>9} {ratio(downs, [d for _, d in ref]):>10}")
    print("\nnetwork setup for 10 services (up -d on default network minus network_mode: none):")
    for tool in tools:
        net = results.get((CASES[4].label, tool.name), [])
        none = results.get((CASES[5].label, tool.name), [])
        if net and none:
            diff = statistics.median(u for u, _ in net) - statistics.median(u for u, _ in none)
            print(f"  {tool.name:<15} {diff * 1e3:7.0f} ms ({diff * 100:.0f} ms per service)")
    shoal = {c.label: results.get((c.label, "shoal"), []) for c in CASES}
    docker = results.get((CASES[0].label, "docker-compose"), [])
    if docker and shoal[CASES[0].label]:
        r = statistics.median(u for u, _ in docker) / statistics.median(u for u, _ in shoal[CASES[0].label])
        print(f"\ntarget: up -d of 10 chained >= 10x faster than docker-compose v1: {r:.1f}x "
              f"-> {'met' if r >= 10 else 'NOT met'}")
    worst = max((d for c in CASES[:4] for _, d in shoal[c.label] if d == d), default=NOT_RUN)
    print(f"target: shoal down < 0.5 s with or without a TERM handler: worst {worst:.2f} s "
          f"-> {'met' if worst < 0.5 else 'NOT met'}")



def make_tools(names: list[str], timeout: float) -> list[Tool]:
    """The requested tools that can run here; the others are named with the reason."""
    makers = {"shoal": Shoal, "docker": DockerCompose, "podman": PodmanCompose}
    tools = []
    for name in names:
        tool = makers[name](timeout)
        if tool.why_not:
            print(f"skipping {tool.name}: {tool.why_not}")
            tool.close()
        else:
            tools.append(tool)
    return tools


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--tools", default="shoal,docker,podman")
    ap.add_argument("--timeout", type=float, default=60.0, help="per command, seconds")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    tools = make_tools(args.tools.split(","), args.timeout)
    work = tempfile.mkdtemp(prefix="shoal-cmp-")
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for rnd in range(max(1, min(args.rounds, 20))):
            for ci, case in enumerate(CASES):
                order = tools[rnd % len(tools):] + tools[:rnd % len(tools)] if tools else []
                for tool in order:
                    up, down, err = run_case(tool, case, work, ci)
                    results.setdefault((case.label, tool.name), []).append((up, down))
                    print(f"round {rnd + 1} {case.label:<42} {tool.name:<15} up {up:7.2f} s  down {down:7.2f} s"
                          + (f"  ERROR: {err}" if err else ""), flush=True)
        report(tools, results)
    finally:
        for tool in tools:
            tool.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
