"""Benchmark: shoal engine start/stop/exec latency and monitor memory, side by side with runc.

Runs busybox containers (Docker-like defaults: 14 caps, seccomp, masked paths,
init) on a private root with three runtimes, interleaved run by run so host load
hits them alike: shoal with a new interpreter per monitor, shoal with the fork
server, and ``runc`` (``apt-get install runc``) on the same busybox rootfs with
``runc spec`` adapted to the same settings (the 14 default caps, shoal's default
seccomp profile in OCI form, cgroup namespace, writable root). Prints min/median
per operation and the shoal/runc ratios. Needs root and busybox-static.

Differences that remain: runc runs the process as PID 1 (no init: shoal's default
puts tini in front), on the rootfs directory itself (shoal stacks an overlay), and
keeps no process per container (so no PSS to compare; runc "stop" is
``runc kill KILL`` as its PID 1 has no TERM handler, shoal's is SIGTERM via the init).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import Engine  # noqa: E402
from engine.security import caps as capmod  # noqa: E402
from engine.security.default_profile import profile  # noqa: E402
from engine.spec import ContainerSpec  # noqa: E402
from engine.testing import make_busybox_rootfs  # noqa: E402

RUNS = int(os.environ.get("SHOAL_BENCH_RUNS", "20"))
WARMUP = 2
OPS = ("run", "start", "exec", "stop", "cold", "pss_kb")
Samples = dict[str, list[float]]


def _ms(samples: list[float]) -> tuple[float, float]:
    return min(samples) * 1e3, statistics.median(samples) * 1e3


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- shoal ---------------------------------------------------------------------------------------
def shoal_round(eng: Engine, rootfs: str, i: int, out: Samples) -> None:
    """One run of /bin/true (create+start+wait) and one start/exec/stop of a sleep container."""
    spec = ContainerSpec(name=f"run{i}", rootfs=rootfs, command=("/bin/true",))

    def run() -> None:
        eng.wait(_started(eng, spec), 30)

    out["run"].append(_timed(run))
    for cid in [c.id for c in eng.list()]:
        eng.remove(cid)
    holder: list[str] = []
    life = ContainerSpec(name=f"life{i}", rootfs=rootfs, command=("sleep", "1000"))
    out["start"].append(_timed(lambda: holder.append(_started(eng, life))))
    cid = holder[0]
    out["exec"].append(_timed(lambda: eng.exec(cid, ["/bin/true"])))
    out["pss_kb"].append(_monitor_pss(eng, cid))
    out["stop"].append(_timed(lambda: eng.stop(cid, timeout=10)))
    eng.remove(cid)
    if eng.forkserver:  # the first start of an Engine also boots its fork server
        eng.close()
        cold = ContainerSpec(name=f"cold{i}", rootfs=rootfs, command=("/bin/true",))
        out["cold"].append(_timed(lambda: holder.append(_started(eng, cold))))
        eng.wait(holder[-1], 30)
        eng.remove(holder[-1])


def _started(eng: Engine, spec: ContainerSpec) -> str:
    cid = eng.create(spec)
    eng.start(cid)
    return cid


def _monitor_pss(eng: Engine, cid: str) -> float:
    with open(os.path.join(eng.root, "containers", cid, "state.json")) as f:
        pid = json.load(f)["monitor_pid"]
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return float(line.split()[1])
    return 0.0


# -- runc ----------------------------------------------------------------------------------------
def oci_seccomp(prof: dict, cap_names: tuple[str, ...]) -> dict:
    """shoal's Docker-format default profile as an OCI ``linux.seccomp`` for these caps on amd64."""
    held = {f"CAP_{c}" for c in cap_names}
    rules = []
    for rule in prof["syscalls"]:
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if inc.get("caps") and not held.issuperset(inc["caps"]):
            continue
        if exc.get("caps") and held.intersection(exc["caps"]):
            continue
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        rules.append({k: v for k, v in rule.items() if k not in ("includes", "excludes")})
    return {"defaultAction": prof["defaultAction"], "defaultErrnoRet": prof.get("defaultErrnoRet", 1),
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules}


def runc_bundle(runc: str, rootfs: str, bundle: str) -> None:
    """A bundle from ``runc spec``, adapted to shoal's defaults."""
    os.makedirs(bundle)
    subprocess.run([runc, "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cap_list = [f"CAP_{c}" for c in capmod.DEFAULT_CAPABILITIES]
    cfg["root"] = {"path": rootfs, "readonly": False}
    cfg["process"].update(args=["sleep", "1000"], terminal=False, noNewPrivileges=False,
                          capabilities={k: cap_list for k in ("bounding", "effective", "permitted")})
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    cfg["linux"]["seccomp"] = oci_seccomp(profile(), capmod.DEFAULT_CAPABILITIES)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)


class Runc:
    """Drives ``runc`` on one bundle (and its ``-true`` sibling)."""

    def __init__(self, runc: str, bundle: str) -> None:
        self.runc, self.bundle = runc, bundle

    def __call__(self, *args: str) -> None:
        subprocess.run([self.runc, *args], cwd=self.bundle, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)

    def round(self, i: int, out: Samples) -> None:
        """`runc run` of /bin/true, then create+start, exec, kill+wait of a sleep container."""
        name = f"shoal-bench-{os.getpid()}-{i}"
        out["run"].append(_timed(lambda: self("run", "--bundle", self.bundle + "-true", f"{name}-r")))
        out["start"].append(_timed(lambda: (self("create", name), self("start", name))))
        out["exec"].append(_timed(lambda: self("exec", name, "/bin/true")))
        with open(f"/run/runc/{name}/state.json") as f:
            pidfd = os.pidfd_open(json.load(f)["init_process_pid"])
        try:
            out["stop"].append(_timed(lambda: (self("kill", name, "KILL"), select.select([pidfd], [], []))))
        finally:
            os.close(pidfd)
        self("delete", name)


# -- report --------------------------------------------------------------------------------------
def report(results: dict[str, Samples]) -> None:
    """Min/median per runtime and operation, then shoal/runc ratios (min and median)."""
    names = {"run": "run /bin/true (create+start+wait)", "start": "start (sleep, until running)",
             "exec": "exec /bin/true", "stop": "stop", "cold": "first start (boots the fork server)"}
    print(f"{RUNS} interleaved runs after {WARMUP} warm-ups; ms: min / median")
    print(f"  {'operation':36s}" + "".join(f"{rt:>22s}" for rt in results))
    for op, label in names.items():
        cells = "".join("{:>10.1f} / {:>9.1f}".format(*_ms(r[op])) if r.get(op) else f"{'n/a':>22s}"
                        for r in results.values())
        print(f"  {label:36s}{cells}")
    for rt, r in results.items():
        if r.get("pss_kb"):
            pss = r["pss_kb"]
            print(f"  monitor PSS, {rt}: {min(pss):.0f} KiB min, {statistics.median(pss):.0f} median")
    base = results.get("runc")
    if not base:
        print("runc not installed: no ratios (apt-get install runc)")
        return
    for rt, r in results.items():
        if rt == "runc":
            continue
        for op, label in names.items():
            ref = base[op] or (base["start"] if op == "cold" else [])  # runc has no server to boot
            if not r[op] or not ref:
                continue
            (lo, med), (blo, bmed) = _ms(r[op]), _ms(ref)
            print(f"ratio {rt + '/runc':22s} {label:36s} min {lo / blo:5.2f}x  median {med / bmed:5.2f}x")


def main() -> int:
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="shoal-bench-engine-")
    engines: list[Engine] = []
    try:
        rootfs = make_busybox_rootfs(os.path.join(tmp, "rootfs"))
        runners: dict[str, Callable[[int, Samples], None]] = {}
        for label, fs in (("shoal (fork server)", True), ("shoal (new interp.)", False)):
            eng = Engine(os.path.join(tmp, label, "root"), os.path.join(tmp, label, "run"), forkserver=fs)
            engines.append(eng)
            runners[label] = lambda i, out, eng=eng: shoal_round(eng, rootfs, i, out)
        runc = shutil.which("runc")
        if runc:
            bundle = os.path.join(tmp, "bundle")
            runc_bundle(runc, rootfs, bundle)
            _true_bundle(bundle)
            runners["runc"] = Runc(runc, bundle).round
        results = {label: {op: [] for op in OPS} for label in runners}
        for i in range(RUNS + WARMUP):
            for label, fn in runners.items():
                sink = results[label] if i >= WARMUP else {op: [] for op in OPS}
                fn(i, sink)
        report(results)
        return 0
    finally:
        for eng in engines:
            eng.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _true_bundle(bundle: str) -> None:
    """A sibling bundle whose process is /bin/true (runc run takes args only from config.json)."""
    os.makedirs(bundle + "-true")
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cfg["process"]["args"] = ["/bin/true"]
    with open(os.path.join(bundle + "-true", "config.json"), "w") as f:
        json.dump(cfg, f)


if __name__ == "__main__":
    sys.exit(main())
