"""Benchmark: shoal engine start/stop/exec latency and monitor memory, next to runc when installed.

Runs busybox containers (Docker-like defaults: 14 caps, seccomp, masked paths,
init) on a private root and prints min/median per operation. If ``runc`` is on
PATH the same `/bin/true` run is timed with `runc run` and ratios are printed;
otherwise the ratio uses the runc figure measured on this VM in
shared/research/engine.md (27.7 ms min, 42.6 ms median), and says so.
Needs root and busybox-static.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import Engine  # noqa: E402
from engine.spec import ContainerSpec  # noqa: E402
from engine.testing import make_busybox_rootfs  # noqa: E402

RUNS = int(os.environ.get("SHOAL_BENCH_RUNS", "20"))
RESEARCH_RUNC = (27.7, 42.6)  # ms, `runc run` /bin/true on this VM (research/engine.md)


def _ms(samples: list[float]) -> tuple[float, float]:
    return min(samples) * 1e3, statistics.median(samples) * 1e3


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_run(eng: Engine, rootfs: str) -> list[float]:
    """create + start + wait of /bin/true (what `docker run --rm true` does, minus the daemon)."""
    out = []
    for i in range(RUNS + 2):
        spec = ContainerSpec(name=f"run{i}", rootfs=rootfs, command=("/bin/true",))
        t0 = time.perf_counter()
        cid = eng.create(spec)
        eng.start(cid)
        eng.wait(cid, 30)
        out.append(time.perf_counter() - t0)
        eng.remove(cid)
    return out[2:]


def bench_lifecycle(eng: Engine, rootfs: str) -> dict[str, list[float]]:
    """start, exec and stop of a long-running container; monitor PSS."""
    res: dict[str, list[float]] = {"start": [], "exec": [], "stop": [], "pss_kb": []}
    for i in range(RUNS):
        cid = eng.create(ContainerSpec(name=f"life{i}", rootfs=rootfs, command=("sleep", "1000")))
        res["start"].append(_time(lambda: eng.start(cid)))
        res["exec"].append(_time(lambda: eng.exec(cid, ["/bin/true"])))
        res["pss_kb"].append(_monitor_pss(eng, cid))
        res["stop"].append(_time(lambda: eng.stop(cid, timeout=10)))
        eng.remove(cid)
    return res


def _monitor_pss(eng: Engine, cid: str) -> float:
    with open(os.path.join(eng.root, "containers", cid, "state.json")) as f:
        pid = json.load(f)["monitor_pid"]
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return float(line.split()[1])
    return 0.0


def bench_runc(rootfs: str, tmp: str) -> list[float] | None:
    """`runc run` of /bin/true with runc's default spec, if runc is installed."""
    runc = shutil.which("runc")
    if not runc:
        return None
    bundle = os.path.join(tmp, "bundle")
    os.makedirs(bundle)
    os.symlink(rootfs, os.path.join(bundle, "rootfs"))
    subprocess.run([runc, "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cfg["process"].update(args=["/bin/true"], terminal=False)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    out = []
    for i in range(RUNS + 2):
        t0 = time.perf_counter()
        subprocess.run([runc, "run", f"shoal-bench-{os.getpid()}-{i}"], cwd=bundle, check=True,
                       stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t0)
    return out[2:]


def main() -> int:
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="shoal-bench-engine-")
    try:
        rootfs = make_busybox_rootfs(os.path.join(tmp, "rootfs"))
        eng = Engine(os.path.join(tmp, "root"), os.path.join(tmp, "run"))
        run = bench_run(eng, rootfs)
        life = bench_lifecycle(eng, rootfs)
        fast = Engine(os.path.join(tmp, "root"), os.path.join(tmp, "run"), forkserver=True)
        try:
            fs_run = bench_run(fast, rootfs)
            fs_life = bench_lifecycle(fast, rootfs)
        finally:
            fast.close()
        runc = bench_runc(rootfs, tmp)
        rows = [("run /bin/true (create+start+wait)", _ms(run)), ("start (sleep)", _ms(life["start"])),
                ("exec /bin/true", _ms(life["exec"])), ("stop (init, SIGTERM)", _ms(life["stop"])),
                ("fork server: run /bin/true", _ms(fs_run)), ("fork server: start (sleep)",
                                                              _ms(fs_life["start"]))]
        print(f"shoal engine, {RUNS} runs each (ms)         min    median")
        for name, (lo, med) in rows:
            print(f"  {name:36s} {lo:7.1f} {med:8.1f}")
        pss = life["pss_kb"]
        print(f"  monitor PSS (KiB)                    {min(pss):7.0f} {statistics.median(pss):8.0f}")
        base, label = (_ms(runc), "runc run (measured now)") if runc else (RESEARCH_RUNC,
                                                                          "runc run (research/engine.md)")
        print(f"  {label:36s} {base[0]:7.1f} {base[1]:8.1f}")
        for name, samples in (("new interpreter", run), ("fork server", fs_run)):
            lo, med = _ms(samples)
            print(f"ratio shoal/runc for run /bin/true ({name}): min {lo / base[0]:.2f}x, "
                  f"median {med / base[1]:.2f}x")
        print(f"  monitor PSS with the fork server (KiB) {min(fs_life['pss_kb']):5.0f}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
