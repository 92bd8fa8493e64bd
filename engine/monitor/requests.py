"""The monitor's request handlers: state, wait, kill, stop, pause/unpause, exec, exec_stream."""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import TYPE_CHECKING

from engine.monitor.execs import ExecJob
from engine.monitor.stream import AttachInput, StreamExecJob

if TYPE_CHECKING:  # pragma: no cover
    from engine.monitor.main import Monitor

__all__ = ["handle", "send_signal", "set_paused"]


def handle(mon: "Monitor", conn: socket.socket, req: dict) -> None:
    """Answer one request (some answers wait: ``wait`` and ``stop`` reply when PID 1 exits)."""
    op = req.get("op")
    if op == "state":
        mon.reply(conn, {"state": mon.state})
    elif op == "wait":
        mon.waiters.append(conn)
    elif op == "kill":
        send_signal(mon, int(req.get("signal", signal.SIGKILL)), bool(req.get("all")))
        mon.reply(conn, {"ok": True})
    elif op == "stop":
        send_signal(mon, int(req.get("signal", signal.SIGTERM)), False)
        grace = float(req.get("timeout", 10.0))
        mon.kill_deadline = time.monotonic() + max(0.0, grace)
        mon.waiters.append(conn)
    elif op in ("pause", "unpause"):
        set_paused(mon, op == "pause")
        mon.reply(conn, {"ok": True, "state": mon.state["state"]})
    elif op == "exec":
        job = ExecJob(mon, conn, req)
        mon.execs[job.pid] = job
        if req.get("timeout"):
            mon.add_timer(float(req["timeout"]), _expire, job)
    elif op == "exec_stream":
        stream_job = StreamExecJob(mon, conn, req)
        mon.execs[stream_job.pid] = stream_job  # type: ignore[assignment]
    elif op == "attach_input":
        AttachInput(mon, conn)
    else:
        mon.reply(conn, {"error": f"unknown op {op!r}"})


def _expire(job: ExecJob) -> None:
    """An exec past its deadline is killed; its reply says so."""
    if job.status is None:
        job.timed_out = True
        job.kill()


def send_signal(mon: "Monitor", sig: int, everyone: bool) -> None:
    """Signal PID 1, or every process of the cgroup; a paused container is thawed so it can act."""
    if mon.state.get("state") == "paused" and sig == signal.SIGKILL:
        set_paused(mon, False)
    if everyone and mon.cgroup is not None:
        mon.cgroup.kill_all(sig)
    else:
        os.kill(mon.pid1, sig)
    if mon.state.get("state") == "paused":
        set_paused(mon, False)


def set_paused(mon: "Monitor", pause: bool) -> None:
    """Freeze or thaw the cgroup and record the state."""
    if mon.cgroup is None:
        raise RuntimeError("pause needs cgroups (engine.cgroups is not available)")
    if pause:
        mon.cgroup.freeze()
        mon.save(state="paused")
    else:
        mon.cgroup.thaw()
        mon.save(state="running")
