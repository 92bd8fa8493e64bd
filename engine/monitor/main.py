"""The monitor process: forks PID 1, logs its output, serves the socket, records how it ended.

Started by the Engine as ``python -I -S -c ... <state_dir> <run_dir>`` in its own
session, so killing the Engine changes nothing. It writes one handshake line on
stdout (started, or why not), then lives until PID 1 exits; the final state stays
in ``state.json`` for any later Engine to read.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import select
import selectors
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING

from engine.monitor.execs import ExecJob
from engine.monitor.health import HealthProbe
from engine.monitor.logs import LogWriter
from engine.monitor.prepare import enter_pid_namespace, load_security, make_pipes, open_cgroup
from engine.monitor.protocol import bind_unix, encode
from engine.monitor.requests import handle
from engine.monitor.trace import mark
from engine.runtime import syscalls as sc
from engine.runtime.process import Stdio, container_child
from engine.state import ContainerPaths, now_rfc3339, read_json, write_json_atomic

if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable

__all__ = ["Monitor", "main"]


def _print_exc() -> None:
    """Log the current exception to monitor.log (traceback is imported only when needed)."""
    import traceback

    traceback.print_exc()


class Monitor:
    """One container's supervisor (single-threaded: fork is safe here)."""

    def __init__(self, paths: ContainerPaths) -> None:
        self.paths = paths
        self.plan = read_json(paths.plan)
        self.state = read_json(paths.state)
        self.sel = selectors.DefaultSelector()
        self.cgroup = None
        self.pid1 = 0
        self.exited = False
        self.waiters: list[socket.socket] = []
        self.execs: dict[int, ExecJob] = {}
        self.kill_deadline = 0.0
        self.buffers: dict[socket.socket, bytes] = {}
        self.listener: socket.socket | None = None
        self.timers: list[tuple[float, int, Callable, tuple]] = []
        self._seq = itertools.count()

    # -- state -------------------------------------------------------------------------------
    def save(self, **changes) -> None:
        """Update and atomically persist the state."""
        self.state.update(changes)
        write_json_atomic(self.paths.state, self.state)

    # -- start -------------------------------------------------------------------------------
    def start(self) -> dict:
        """Create cgroup and stdio, fork PID 1, wait for its execve; return the handshake."""
        plan = self.plan
        self.listener = bind_unix(self.paths.socket)  # before the handshake: callers may connect at once
        self.sec = load_security(plan)
        mark("security loaded")
        self.cgroup = open_cgroup(plan)
        mark("cgroup created")
        self.log = LogWriter(self.paths.log, plan["log"]["max_size"], plan["log"]["max_file"],
                             plan["log"]["driver"] != "none")
        self.pipes = make_pipes(plan.get("tty", False), bool(plan.get("stdin_open")))  # held open, never EOF
        self.outputs = {fd: name for fd, name in ((self.pipes.out, "stdout"), (self.pipes.err, "stderr"))
                        if fd >= 0}
        if self.pipes.tty:
            plan["console"] = self.pipes.slave_path
        errr, errw = os.pipe2(os.O_CLOEXEC)
        gor, gow = os.pipe2(os.O_CLOEXEC)
        enter_pid_namespace(plan["namespaces"].get("pid", "private"))
        mark("forking pid 1")
        pid = os.fork()
        if pid == 0:
            p = self.pipes
            container_child(plan, Stdio(p.child_in, p.child_out, p.child_err, errw, p.tty), gor, self.sec)
        self.pid1 = pid
        self.pipes.close_child_ends()
        os.close(errw)
        os.close(gor)
        if self.cgroup is not None:
            self.cgroup.add_process(pid)
        os.write(gow, b"1")
        os.close(gow)
        mark("pid 1 in cgroup")
        report = self._read_all(errr)
        mark("pid 1 exec'd")
        return self._after_exec(report)

    @staticmethod
    def _read_all(fd: int) -> bytes:
        out = b""
        while chunk := os.read(fd, 65536):
            out += chunk
        os.close(fd)
        return out

    def _after_exec(self, report: bytes) -> dict:
        if report:
            err = json.loads(report)
            _, status = os.waitpid(self.pid1, 0)
            self._drain_all()
            self.finish(status, error=err["message"])
            return {"ok": False, **err}
        if self.plan.get("init_path"):
            self._wait_app_exec()
            mark("app exec'd")
        self.save(state="running", pid=self.pid1, monitor_pid=os.getpid(),
                  monitor_start=start_time(os.getpid()), started_at=now_rfc3339(),
                  finished_at="", exit_code=0, signal=0, oom_killed=False, error="",
                  health=HealthProbe.initial() if self.plan.get("healthcheck") else None)
        return {"ok": True, "pid": self.pid1}

    def _wait_app_exec(self, budget: float = 0.5) -> None:
        """Let the init fork and exec the app before reporting "running".

        Signals sent to a pid-namespace init before it sets up its handlers are dropped by the
        kernel, and freezing it mid-spawn stalls it: waiting here makes stop/pause right after
        start reliable (typically ~1 ms).
        """
        deadline, nap = time.monotonic() + budget, 0.0002  # the exec usually lands within 1 ms
        try:
            with open(f"/proc/{self.pid1}/cmdline", "rb") as f:
                init_cmd = f.read()
        except OSError:
            return
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{self.pid1}/stat", "rb") as f:
                    if f.read().rsplit(b") ", 1)[1][:1] in (b"Z", b"X"):
                        return  # the app already ran and the init exited
                with open(f"/proc/{self.pid1}/task/{self.pid1}/children") as f:
                    kids = f.read().split()
                if kids:
                    with open(f"/proc/{kids[0]}/cmdline", "rb") as f:
                        if f.read() != init_cmd:
                            return
            except OSError:
                return  # init already gone: the loop will reap it
            time.sleep(nap)
            nap = min(nap * 2, 0.002)

    # -- loop --------------------------------------------------------------------------------
    def serve(self) -> None:
        """Handle output, requests and child exits until PID 1 is gone."""
        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(rsock, selectors.EVENT_READ, ("sigchld", None))
        self.sel.register(self.listener, selectors.EVENT_READ, ("accept", None))
        for fd, stream in self.outputs.items():
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, ("output", stream))
        self._reap()
        if self.plan.get("healthcheck") and not self.exited:
            self.health = HealthProbe(self, self.plan["healthcheck"])
        while not self.exited:
            due = [t for t in (self.kill_deadline, self.timers[0][0] if self.timers else 0.0) if t]
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            for key, _ in self.sel.select(timeout):
                try:
                    self._dispatch(key)
                except Exception:  # noqa: BLE001 - log it; the monitor must outlive any one request
                    _print_exc()
            if self.kill_deadline and time.monotonic() >= self.kill_deadline:
                self.kill_deadline = 0.0
                self._kill_all(signal.SIGKILL)
            self._run_timers()
            self._reap()

    def add_timer(self, delay: float, fn: Callable, *args) -> None:
        """Call ``fn(*args)`` from the loop after ``delay`` seconds."""
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self._seq), fn, args))

    def _run_timers(self) -> None:
        while self.timers and self.timers[0][0] <= time.monotonic() and not self.exited:
            _, _, fn, args = heapq.heappop(self.timers)
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - a failing timer must not stop the monitor
                _print_exc()

    def _dispatch(self, key: selectors.SelectorKey) -> None:
        kind, arg = key.data
        if kind == "sigchld":
            try:
                key.fileobj.recv(4096)
            except BlockingIOError:
                pass
        elif kind == "accept":
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self.buffers[conn] = b""
            self.sel.register(conn, selectors.EVENT_READ, ("client", None))
        elif kind == "output":
            self._read_output(key.fd)
        elif kind == "client":
            self._read_client(key.fileobj)
        elif kind == "exec":
            arg.on_event(key.fd, self.sel)

    def _read_output(self, fd: int) -> bool:
        """Move available output into the log; False (and closed) at EOF."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:  # EIO on a pty whose slave side is gone
            data = b""
        if not data:
            if fd in self.sel.get_map():
                self.sel.unregister(fd)
            os.close(fd)
            del self.outputs[fd]
            return False
        self.log.write(self.outputs[fd], data)
        return True

    def _drain_all(self) -> None:
        """Read what is left in the output pipes, for at most one second."""
        deadline = time.monotonic() + 1.0
        for fd in list(self.outputs):
            os.set_blocking(fd, False)
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
                if not ready or not self._read_output(fd):
                    break
        self.log.flush()

    # -- requests ----------------------------------------------------------------------------
    def _read_client(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        self.buffers[conn] += data
        if b"\n" in self.buffers[conn]:
            line = self.buffers.pop(conn).split(b"\n", 1)[0]
            self.sel.unregister(conn)
            try:
                handle(self, conn, json.loads(line))
            except Exception as exc:  # noqa: BLE001 - a bad request must not kill the monitor
                self.reply(conn, {"error": f"{type(exc).__name__}: {exc}"})

    def _drop(self, conn: socket.socket) -> None:
        self.buffers.pop(conn, None)
        if conn in self.sel.get_map():
            self.sel.unregister(conn)
        conn.close()

    def reply(self, conn: socket.socket, obj: dict) -> None:
        """Send the one reply of a connection and close it."""
        try:
            conn.setblocking(True)
            conn.settimeout(5)
            conn.sendall(encode(obj))
        except OSError:
            pass
        finally:
            conn.close()

    def _kill_all(self, sig: int, pid1_alive: bool = True) -> None:
        try:
            if self.cgroup is not None:
                if self.state.get("state") == "paused":
                    self.cgroup.thaw()
                self.cgroup.kill_all(sig)
            if pid1_alive:
                os.kill(self.pid1, sig)
        except Exception:  # noqa: BLE001 - already gone, or the cgroup is being torn down
            pass

    # -- exits -------------------------------------------------------------------------------
    def _reap(self) -> None:
        while not self.exited:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid1:
                mark("pid 1 reaped")
                self._kill_all(signal.SIGKILL, pid1_alive=False)
                self._drain_all()
                mark("output drained")
                self.finish(status)
            elif pid in self.execs:
                self.execs[pid].on_exit(status)

    def finish(self, status: int, error: str = "") -> None:
        """Record how PID 1 ended, release the cgroup, answer waiters, and stop serving."""
        code = os.waitstatus_to_exitcode(status)
        sig = -code if code < 0 else 0
        oom = False
        if self.cgroup is not None:
            try:
                oom = bool(self.cgroup.oom_killed())  # any process of the container, like Docker
            except Exception:  # noqa: BLE001 - a missing counter means "no OOM seen"
                pass
            remove_cgroup(self.cgroup)
            mark("cgroup removed")
        self.log.close()
        self.save(state="exited", pid=0, exit_code=128 + sig if sig else code, signal=sig,
                  oom_killed=oom, finished_at=now_rfc3339(), error=error)
        self.exited = True
        for job in list(self.execs.values()):
            job.abort()
        for conn in self.waiters:
            self.reply(conn, {"state": self.state})
        self.waiters.clear()
        if self.listener is not None:
            self.listener.close()
            try:
                os.unlink(self.paths.socket)
            except FileNotFoundError:
                pass


def start_time(pid: int) -> int:
    """The kernel's start time of ``pid`` (clock ticks since boot): tells a reused pid apart."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b") ", 1)[1].split()[19])


def remove_cgroup(cgroup) -> None:
    """Kill what is left and remove the cgroup, retrying while the kernel still lists tasks."""
    for _ in range(100):
        try:
            cgroup.kill_all(signal.SIGKILL)
            cgroup.remove()
            return
        except Exception:  # noqa: BLE001 - CgroupError or OSError: retry briefly
            time.sleep(0.01)


def _name_process(name: str) -> None:
    """Set the command name ps/top show (a fork-server monitor otherwise shows the server's)."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(name[:15])
    except OSError:
        pass


def main(args: list[str], detach: bool = True) -> None:
    """Entry point: ``main([state_dir, run_dir])``; the fork server's children need no ``detach``."""
    mark("monitor main")
    if detach and os.fork():  # the Engine reaps this parent at once; no zombie is left in the caller
        os._exit(0)
    sc.prctl(sc.PR_SET_DUMPABLE, 0)
    os.chdir("/")  # hold no directory of the caller's (a container must never inherit a host cwd)
    _name_process("mon-" + os.path.basename(args[0])[:11])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    mon = Monitor(ContainerPaths(args[0], args[1]))
    try:
        handshake = mon.start()
    except Exception as exc:  # noqa: BLE001 - report, clean up, exit
        handshake = {"ok": False, "kind": "setup", "message": f"{exc}", "code": 125}
        if mon.cgroup is not None:
            remove_cgroup(mon.cgroup)
        if mon.listener is not None:
            mon.listener.close()
            os.unlink(mon.paths.socket)
        mon.save(state="exited", pid=0, exit_code=125, error=str(exc), finished_at=now_rfc3339())
    handshake["monitor_pid"], handshake["monitor_start"] = os.getpid(), start_time(os.getpid())
    mark("handshake")
    try:
        os.write(1, encode(handshake))
    except OSError:  # whoever started us is gone (even SIGKILL): the container lives on regardless
        pass
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    if handshake["ok"]:
        mon.serve()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: stop/remove wait for this process to be gone


if __name__ == "__main__":
    main(sys.argv[1:])
