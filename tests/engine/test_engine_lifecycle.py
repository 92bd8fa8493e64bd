"""Lifecycle of real containers: exit codes, signals, stop, pause, logs, exec, re-adoption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine import CommandNotFound, Engine, InvalidState
from engine.spec import ContainerSpec

pytestmark = pytest.mark.root
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh(rootfs: str, script: str, **kw) -> ContainerSpec:
    kw.setdefault("name", f"t{time.monotonic_ns()}")
    return ContainerSpec(rootfs=rootfs, command=("sh", "-c", script), **kw)


def run(eng: Engine, spec: ContainerSpec, timeout: float = 20):
    cid = eng.create(spec)
    eng.start(cid)
    status = eng.wait(cid, timeout)
    lines = list(eng.logs(cid))
    out = "".join(x.message for x in lines if x.stream == "stdout")
    err = "".join(x.message for x in lines if x.stream == "stderr")
    return cid, status, out, err


def test_exit_code_and_streams_are_kept_apart(eng, busybox_rootfs):
    _, status, out, err = run(eng, sh(busybox_rootfs, "echo one; echo two >&2; echo three; exit 42"))
    assert status.exit_code == 42 and status.signal == 0 and not status.oom_killed
    assert out == "one\nthree\n"
    assert err == "two\n"


def test_log_lines_are_ordered_and_timestamped(eng, busybox_rootfs):
    cid, _, _, _ = run(eng, sh(busybox_rootfs, "for i in 1 2 3 4 5; do echo line$i; done"))
    lines = list(eng.logs(cid, timestamps=True))
    assert [x.message for x in lines] == [f"line{i}\n" for i in range(1, 6)]
    assert all(x.time.endswith("Z") and "T" in x.time for x in lines)
    assert [x.time for x in lines] == sorted(x.time for x in lines)
    assert str(lines[0]).startswith(lines[0].time + " line1")
    assert [x.message for x in eng.logs(cid, tail=2)] == ["line4\n", "line5\n"]


def test_kill_reports_the_signal_exactly(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "sleep 100", init=False))
    eng.start(cid)
    eng.kill(cid, "SIGKILL")
    status = eng.wait(cid, 10)
    assert (status.exit_code, status.signal) == (137, signal.SIGKILL)
    assert eng.inspect(cid).state == "exited"


def test_sigterm_through_init_is_forwarded(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "exec sleep 100"))
    eng.start(cid)
    eng.kill(cid, "SIGTERM")
    assert eng.wait(cid, 10).exit_code == 143  # 128 + SIGTERM, like docker with --init


def test_stop_is_fast_with_init_for_a_program_without_handlers(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "exec sleep 1000"))
    eng.start(cid)
    t0 = time.monotonic()
    eng.stop(cid, timeout=10)
    assert time.monotonic() - t0 < 1.0
    assert eng.inspect(cid).state == "exited"


def test_stop_kills_after_the_grace_period(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "trap '' TERM; while true; do sleep 0.1; done", init=False))
    eng.start(cid)
    t0 = time.monotonic()
    eng.stop(cid, timeout=0.5)
    elapsed = time.monotonic() - t0
    status = eng.wait(cid, 5)
    assert 0.4 < elapsed < 3.0
    assert status.exit_code == 137 and status.signal == signal.SIGKILL


def test_init_reaps_zombies(eng, busybox_rootfs):
    script = "for i in 1 2 3 4 5; do (sleep 0.1 &); done; sleep 1; grep -h State /proc/[0-9]*/status"
    _, status, out, _ = run(eng, sh(busybox_rootfs, script))
    assert status.exit_code == 0
    assert "State" in out and "zombie" not in out


def test_pid1_is_the_init_and_the_app_is_its_child(eng, busybox_rootfs):
    _, _, out, _ = run(eng, sh(busybox_rootfs, "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,comm"))
    first, *ps_lines = out.splitlines()
    assert first.startswith("/sbin/docker-init -- sh -c")
    pids = [int(x.split()[0]) for x in ps_lines[1:]]
    assert max(pids) < 20  # a fresh pid namespace: only our few processes


def test_no_init_makes_the_app_pid1(eng, busybox_rootfs):
    _, _, out, _ = run(eng, sh(busybox_rootfs, "echo $$", init=False))
    assert out == "1\n"


def test_command_not_found_is_127_with_dockers_message(eng, busybox_rootfs):
    cid = eng.create(ContainerSpec(name="nf", rootfs=busybox_rootfs, command=("nosuchcmd",)))
    with pytest.raises(CommandNotFound, match='exec: "nosuchcmd": executable file not found in \\$PATH'):
        eng.start(cid)
    info = eng.inspect(cid)
    assert info.state == "exited" and info.exit_code == 127
    assert [x.message for x in eng.logs(cid)] == ['exec: "nosuchcmd": executable file not found in $PATH\n']


def test_exec_output_exit_code_stdin_and_user(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "sleep 100"))
    eng.start(cid)
    res = eng.exec(cid, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (res.exit_code, res.stdout, res.stderr) == (7, b"out\n", b"err\n")
    assert eng.exec(cid, ["cat"], stdin=b"piped\n").stdout == b"piped\n"
    assert eng.exec(cid, ["id", "-u"], user="app").stdout == b"1000\n"
    assert eng.exec(cid, ["sh", "-c", "echo $FOO"], env=["FOO=bar"]).stdout == b"bar\n"
    assert eng.exec(cid, ["pwd"], workdir="/tmp").stdout == b"/tmp\n"
    missing = eng.exec(cid, ["nope"])
    assert missing.exit_code == 127 and b'exec: "nope": executable file not found' in missing.stderr
    # exec runs in the container's pid namespace and keeps its capabilities
    assert b"a80425fb" in eng.exec(cid, ["grep", "CapEff", "/proc/self/status"]).stdout
    assert int(eng.exec(cid, ["sh", "-c", "echo $$"]).stdout) < 50


def test_pause_stops_output_and_unpause_resumes(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "while true; do echo tick; sleep 0.05; done"))
    eng.start(cid)
    time.sleep(0.3)
    eng.pause(cid)
    assert eng.inspect(cid).state == "paused"
    with pytest.raises(Exception, match="paused"):
        eng.exec(cid, ["true"])
    n1 = len(list(eng.logs(cid)))
    time.sleep(0.5)
    assert len(list(eng.logs(cid))) == n1
    eng.unpause(cid)
    assert eng.inspect(cid).state == "running"
    time.sleep(0.4)
    assert len(list(eng.logs(cid))) > n1


def test_remove_refuses_running_unless_forced(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "sleep 100"))
    eng.start(cid)
    with pytest.raises(InvalidState):
        eng.remove(cid)
    eng.remove(cid, force=True)
    assert eng.list() == []


def test_restart_keeps_the_writable_layer(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "cat /data.txt 2>/dev/null; echo again >> /data.txt"))
    eng.start(cid)
    eng.wait(cid, 10)
    eng.start(cid)
    eng.wait(cid, 10)
    assert [x.message for x in eng.logs(cid)] == ["again\n"]
    assert not os.path.exists(os.path.join(busybox_rootfs, "data.txt"))


_STARTER = """
import sys, os
sys.path.insert(0, {repo!r})
from engine import Engine
from engine.spec import ContainerSpec
e = Engine({root!r}, {run!r})
cid = e.create(ContainerSpec(name="adopt", rootfs={rootfs!r},
               command=("sh", "-c", "echo before; sleep 1; echo after >&2; exit 5")))
e.start(cid)
print(cid, flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_new_engine_adopts_after_the_starter_is_killed(tmp_path, busybox_rootfs):
    root, run_dir = str(tmp_path / "root"), str(tmp_path / "run")
    code = _STARTER.format(repo=REPO, root=root, run=run_dir, rootfs=busybox_rootfs)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    cid = proc.stdout.strip()
    eng = Engine(root, run_dir)
    try:
        assert eng.inspect(cid).state == "running"
        status = eng.wait(cid, 10)
        assert status.exit_code == 5
        assert [(x.stream, x.message) for x in eng.logs(cid)] == [("stdout", "before\n"),
                                                                 ("stderr", "after\n")]
        time.sleep(0.2)
        assert Engine(root, run_dir).wait(cid, 1).exit_code == 5  # exited meanwhile: still known
    finally:
        eng.remove(cid, force=True)


def test_logs_follow_until_exit(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "echo a; sleep 0.3; echo b; sleep 0.3; echo c"))
    eng.start(cid)
    assert [x.message for x in eng.logs(cid, follow=True)] == ["a\n", "b\n", "c\n"]


def test_stop_a_paused_container(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "exec sleep 1000"))
    eng.start(cid)
    eng.pause(cid)
    t0 = time.monotonic()
    eng.stop(cid, timeout=5)
    assert time.monotonic() - t0 < 3
    assert eng.inspect(cid).state == "exited"


def test_custom_stop_signal_reaches_the_app(eng, busybox_rootfs):
    script = "trap 'echo got-usr1; exit 0' USR1; while true; do sleep 0.05; done"
    cid = eng.create(sh(busybox_rootfs, script, stop_signal="SIGUSR1"))
    eng.start(cid)
    time.sleep(0.3)
    eng.stop(cid, timeout=5)
    assert eng.wait(cid, 5).exit_code == 0
    assert [x.message for x in eng.logs(cid)] == ["got-usr1\n"]


def test_exec_as_unknown_user_fails_clearly(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "exec sleep 100"))
    eng.start(cid)
    res = eng.exec(cid, ["true"], user="ghost")
    assert res.exit_code == 126 and b"unable to find user ghost" in res.stderr


def test_healthcheck_turns_healthy_then_unhealthy(eng, busybox_rootfs):
    from engine.spec import HealthcheckSpec

    hc = HealthcheckSpec(test=("CMD-SHELL", "test ! -e /tmp/broken && echo fine"), interval=0.1,
                         timeout=1.0, retries=2)
    cid = eng.create(sh(busybox_rootfs, "exec sleep 100", healthcheck=hc))
    eng.start(cid)
    assert eng.inspect(cid).health in ("starting", "healthy")
    deadline = time.monotonic() + 5
    while eng.inspect(cid).health != "healthy" and time.monotonic() < deadline:
        time.sleep(0.05)
    info = eng.inspect(cid)
    assert info.health == "healthy" and info.health_log[-1]["output"] == "fine\n"
    eng.exec(cid, ["touch", "/tmp/broken"])
    while eng.inspect(cid).health != "unhealthy" and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    info = eng.inspect(cid)
    assert info.health == "unhealthy" and info.health_log[-1]["exit_code"] == 1


def test_healthcheck_timeout_counts_as_failure(eng, busybox_rootfs):
    from engine.spec import HealthcheckSpec

    hc = HealthcheckSpec(test=("CMD", "sleep", "5"), interval=0.1, timeout=0.2, retries=1)
    cid = eng.create(sh(busybox_rootfs, "exec sleep 100", healthcheck=hc))
    eng.start(cid)
    deadline = time.monotonic() + 5
    while eng.inspect(cid).health != "unhealthy" and time.monotonic() < deadline:
        time.sleep(0.05)
    info = eng.inspect(cid)
    assert info.health == "unhealthy"
    assert "exceeded timeout" in info.health_log[-1]["output"]
    assert info.state == "running"


def test_fork_server_starts_monitors_and_can_go_away(tmp_path, busybox_rootfs):
    root, run_dir = str(tmp_path / "root"), str(tmp_path / "run")
    eng = Engine(root, run_dir, forkserver=True)
    try:
        first = eng.create(sh(busybox_rootfs, "echo via-forkserver; exec sleep 100"))
        eng.start(first)
        assert os.path.exists(os.path.join(run_dir, "forkserver.sock"))
        eng.close()  # the server goes; the running container and its monitor stay
        assert not os.path.exists(os.path.join(run_dir, "forkserver.sock"))
        assert eng.exec(first, ["echo", "still"]).stdout == b"still\n"
        second = eng.create(sh(busybox_rootfs, "exit 3"))
        eng.start(second)  # starts a new server on demand
        assert eng.wait(second, 10).exit_code == 3
        eng.stop(first, timeout=1)
        assert [x.message for x in eng.logs(first)] == ["via-forkserver\n"]
    finally:
        for info in eng.list():
            eng.remove(info.id, force=True)
        eng.close()
    time.sleep(0.1)
    leftovers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if run_dir.encode() in f.read():
                    leftovers.append(pid)
        except OSError:
            pass
    assert leftovers == []


def test_logs_since_filters_by_time(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "echo early; sleep 0.5; echo late"))
    eng.start(cid)
    eng.wait(cid, 10)
    lines = list(eng.logs(cid))
    assert [x.message for x in eng.logs(cid, since=lines[1].time)] == ["late\n"]
    assert [x.message for x in eng.logs(cid, since=0)] == ["early\n", "late\n"]


def test_container_dies_with_its_monitor_and_remove_cleans_up(eng, busybox_rootfs, tmp_path):
    import json

    cid = eng.create(sh(busybox_rootfs, "exec sleep 100"))
    eng.start(cid)
    with open(tmp_path / "root" / "containers" / cid / "state.json") as f:
        st = json.load(f)
    os.kill(st["monitor_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{st['pid']}/status") and time.monotonic() < deadline:
        with open(f"/proc/{st['pid']}/status") as f:
            if "State:\tZ" in f.read():
                break
        time.sleep(0.02)
    assert time.monotonic() < deadline, "PID 1 outlived its monitor"
    info = eng.inspect(cid)
    assert info.state == "exited" and info.error == "monitor died"
    eng.remove(cid)
    assert not any(os.path.isdir(f"/sys/fs/cgroup/{c}/shoal/{cid}") for c in ("memory", "pids", "freezer"))


def test_log_rotation_by_size_and_count(eng, busybox_rootfs, tmp_path):
    from engine.spec import LogSpec

    cid = eng.create(sh(busybox_rootfs, "for i in $(seq 1 300); do echo line-$i; done",
                        log=LogSpec(max_size=2000, max_file=3)))
    eng.start(cid)
    eng.wait(cid, 10)
    base = tmp_path / "root" / "containers" / cid / "container-json.log"
    files = sorted(p.name for p in base.parent.glob("container-json.log*"))
    assert files == ["container-json.log", "container-json.log.1", "container-json.log.2"]
    assert all(p.stat().st_size <= 2000 for p in base.parent.glob("container-json.log*"))
    msgs = [x.message for x in eng.logs(cid)]
    assert msgs[-1] == "line-300\n"
    numbers = [int(m.split("-")[1]) for m in msgs]
    assert numbers == list(range(numbers[0], 301)) and numbers[0] > 1  # oldest dropped, rest in order


def test_log_driver_none_keeps_nothing(eng, busybox_rootfs):
    from engine.spec import LogSpec

    cid = eng.create(sh(busybox_rootfs, "echo hidden", log=LogSpec(driver="none")))
    eng.start(cid)
    assert eng.wait(cid, 10).exit_code == 0
    assert list(eng.logs(cid)) == []


def test_exec_timeout_kills_the_command(eng, busybox_rootfs):
    cid = eng.create(sh(busybox_rootfs, "exec sleep 100"))
    eng.start(cid)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        eng.exec(cid, ["sh", "-c", "sleep 30; echo never"], timeout=0.3)  # sh's child keeps the pipes
    assert time.monotonic() - t0 < 5
    ps = eng.exec(cid, ["ps", "-o", "args"]).stdout.decode()
    assert "sh -c sleep 30" not in ps
