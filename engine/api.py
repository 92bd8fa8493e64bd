"""The public Engine: create, start, stop, exec and inspect containers from ContainerSpecs.

The Engine holds no container state in memory: everything is in
``<root>/containers/<id>/`` (written by it at create, by the monitor afterwards)
and each running container's monitor answers on ``<run>/containers/<id>/monitor.sock``.
So any Engine instance, including one created after the previous was killed,
sees and controls every container ("re-adoption" is just reading the files).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal as _signal
import subprocess
import sys
import threading
import time
from typing import Iterator, Sequence

from engine.container import lifecycle
from engine.container.codec import spec_from_dict
from engine.errors import (CommandNotFound, ContainerNotFound, EngineError, InvalidState,
                           MonitorUnavailable, StartFailed)
from engine.monitor import logs as logmod
from engine.monitor.client import ExitWatch, OwnerPipe, same_process, start_ticks, wait_gone
from engine.monitor.protocol import ExecSession, ProtocolError, open_exec_stream, request
from engine.monitor.trace import mark
from engine.spec import ContainerSpec
from engine.state import ContainerInfo, ContainerPaths, ExecResult, ExitStatus, LogLine, read_json

__all__ = ["Engine"]

_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MONITOR_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from engine.monitor.trace import mark; "
                 "mark('interpreter up'); from engine.monitor.main import main; main(sys.argv[2:])")


class Engine:
    """shoal's container engine, usable as a library."""

    def __init__(self, root: str | None = None, run_dir: str | None = None, *,
                 forkserver: bool | None = None) -> None:
        if forkserver is None:
            forkserver = os.environ.get("SHOAL_FORKSERVER", "1") != "0"
        self.forkserver = forkserver
        self._fs_lock = threading.Lock()
        self._fs_owner = OwnerPipe()
        self.root = os.path.abspath(root or os.environ.get("SHOAL_ROOT") or "/var/lib/shoal")
        self.run_dir = os.path.abspath(run_dir or os.environ.get("SHOAL_RUN") or "/run/shoal")
        self.containers_dir = os.path.join(self.root, "containers")
        os.makedirs(self.containers_dir, mode=0o711, exist_ok=True)
        os.makedirs(os.path.join(self.run_dir, "containers"), mode=0o700, exist_ok=True)

    # -- lookup ------------------------------------------------------------------------------
    def _paths(self, cid: str) -> ContainerPaths:
        return ContainerPaths(os.path.join(self.containers_dir, cid),
                              os.path.join(self.run_dir, "containers", cid))

    def _ids(self) -> list[str]:
        return sorted(d for d in os.listdir(self.containers_dir)
                      if os.path.isfile(os.path.join(self.containers_dir, d, "config.json")))

    def resolve(self, ref: str) -> str:
        """Full id for an id, a unique id prefix, or a name."""
        ids = self._ids()
        if ref in ids:
            return ref
        for cid in ids:
            if self._config(cid).get("name") == ref:
                return cid
        matches = [cid for cid in ids if ref and cid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise ContainerNotFound(f"No such container: {ref}")

    def _config(self, cid: str) -> dict:
        return read_json(self._paths(cid).config)

    def _state(self, cid: str) -> dict:
        """State from the file; a running state whose monitor is gone reads as exited."""
        paths = self._paths(cid)
        st = read_json(paths.state)
        if st.get("state") in ("running", "paused") and not same_process(st.get("monitor_pid"),
                                                                         st.get("monitor_start")):
            st = read_json(paths.state)  # the monitor may have just finished writing
            if st.get("state") in ("running", "paused"):
                st.update(state="exited", exit_code=255, error="monitor died", pid=0)
        return st

    # -- create / start ----------------------------------------------------------------------
    def create(self, spec: ContainerSpec) -> str:
        """Validate ``spec`` and make the container's files; returns its id. Nothing runs yet."""
        cid = secrets.token_hex(32)
        names = {self._config(i).get("name") for i in self._ids()}
        lifecycle.create(self.root, spec, cid, self._paths(cid), names)
        return cid

    def start(self, ref: str) -> None:
        """Start the container's monitor and PID 1; raises CommandNotFound/StartFailed on setup errors."""
        mark("start")
        cid = self.resolve(ref)
        paths = self._paths(cid)
        st = self._state(cid)
        if st["state"] in ("running", "paused"):
            raise InvalidState(f"container {ref} is already {st['state']}")
        lifecycle.write_plan(self.root, cid, paths, self._config(cid), self._peer_pid)
        os.makedirs(paths.run_dir, mode=0o700, exist_ok=True)
        mark("spawn monitor")
        handshake = self._spawn_monitor(paths)
        mark("handshake read")
        if not handshake.get("ok"):
            wait_gone(handshake.get("monitor_pid"), handshake.get("monitor_start"), 5.0)  # leave nothing
            msg = handshake.get("message", "container setup failed")
            if handshake.get("kind") == "not_found":
                raise CommandNotFound(msg)
            raise StartFailed(f"container {self._config(cid)['name']}: {msg}")

    @property
    def _forkserver_sock(self) -> str:
        return os.path.join(self.run_dir, "forkserver.sock")

    def _spawn_monitor(self, paths: ContainerPaths) -> dict:
        """Start the monitor (fork server unless disabled, else a fresh interpreter); read its handshake."""
        if self.forkserver:
            msg = {"op": "spawn", "state_dir": paths.state_dir, "run_dir": paths.run_dir}
            for attempt in range(2):
                try:
                    return request(self._forkserver_sock, msg, 60)
                except (FileNotFoundError, ConnectionError, ProtocolError):
                    if attempt == 0:
                        self._start_forkserver()
        return self._spawn_interpreter(paths)

    def _start_forkserver(self) -> None:
        """Launch the fork server (own session, single-threaded) unless one answers; wait until it listens.

        It is started with fork+exec (safe from a multi-threaded caller such as shoald) and gets
        the read end of a pipe whose write end only this Engine holds: when the Engine is closed,
        collected or its process dies, the server sees EOF and exits. Running containers stay.
        """
        with self._fs_lock:
            try:
                if request(self._forkserver_sock, {"op": "ping"}, 5).get("ok"):
                    return  # another thread (or Engine) started one meanwhile
            except (OSError, ProtocolError, ValueError):
                pass
            owner = self._fs_owner.open()
            boot = ("import sys; sys.path.insert(0, sys.argv[1]); "
                    "from engine.monitor.forkserver import serve; serve(sys.argv[2], int(sys.argv[3]))")
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", boot, _PKG_ROOT, self._forkserver_sock,
                                     str(owner)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, start_new_session=True, pass_fds=(owner,))
            os.close(owner)
            try:
                proc.stdout.readline()
            finally:
                proc.stdout.close()
                proc.wait()  # the server detached itself: this reaps only its starter

    def close(self) -> None:
        """Stop the fork server of this run dir, if one runs, and wait until it is gone.

        Containers are not affected: their monitors are independent processes.
        """
        pid = started = None
        try:
            pid = request(self._forkserver_sock, {"op": "ping"}, 5).get("pid")
            started = start_ticks(pid) if pid else None
            request(self._forkserver_sock, {"op": "exit"}, 5)
        except (OSError, ProtocolError, ValueError):
            pass
        self._fs_owner.close()
        if pid and started is not None:
            wait_gone(pid, started, 5.0)

    def _spawn_interpreter(self, paths: ContainerPaths) -> dict:
        """Run the monitor in a new interpreter (it daemonizes itself) and read its handshake."""
        with open(os.path.join(paths.state_dir, "monitor.log"), "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _MONITOR_BOOT, _PKG_ROOT, paths.state_dir, paths.run_dir],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                close_fds=True)
        try:
            line = proc.stdout.readline()
        finally:
            proc.stdout.close()
            proc.wait()
        if not line:
            raise StartFailed(f"monitor exited without reporting (see {paths.state_dir}/monitor.log)")
        return json.loads(line)

    def _peer_pid(self, ref: str) -> int:
        cid = self.resolve(ref)
        st = self._state(cid)
        if st["state"] not in ("running", "paused") or not st.get("pid"):
            raise InvalidState(f"cannot join namespaces of container {ref}: it is not running")
        return int(st["pid"])

    # -- signals -----------------------------------------------------------------------------
    def _call(self, cid: str, msg: dict, timeout: float | None = 10.0) -> dict:
        try:
            reply = request(self._paths(cid).socket, msg, timeout)
        except (FileNotFoundError, ConnectionError, ProtocolError) as exc:  # it exited meanwhile
            raise MonitorUnavailable(f"container {cid[:12]} is not running ({exc})") from None
        if reply.get("error"):
            raise EngineError(reply["error"])
        return reply

    def _running(self, ref: str) -> str:
        cid = self.resolve(ref)
        state = self._state(cid)["state"]
        if state not in ("running", "paused"):
            raise InvalidState(f"container {ref} is not running (state: {state})")
        return cid

    def kill(self, ref: str, signal: str | int = "SIGKILL") -> None:
        """Send a signal to the container's PID 1."""
        cid = self._running(ref)
        self._call(cid, {"op": "kill", "signal": lifecycle.signal_number(signal)})

    def stop(self, ref: str, timeout: float | None = None) -> None:
        """Stop signal, wait up to the grace period, then SIGKILL everything in the cgroup."""
        cid = self.resolve(ref)
        if self._state(cid)["state"] not in ("running", "paused"):
            return
        spec = self._spec(cid)
        grace = spec.stop_grace_period if timeout is None else timeout
        sig = lifecycle.signal_number(self._config(cid).get("stop_signal", spec.stop_signal))
        try:
            self._call(cid, {"op": "stop", "signal": sig, "timeout": grace}, grace + 30)
        except MonitorUnavailable:
            pass  # it exited meanwhile
        self.wait(cid, timeout=30)

    def pause(self, ref: str) -> None:
        """Freeze every process of the container."""
        self._call(self._running(ref), {"op": "pause"})

    def unpause(self, ref: str) -> None:
        """Thaw a paused container."""
        self._call(self._running(ref), {"op": "unpause"})

    def wait(self, ref: str, timeout: float | None = None) -> ExitStatus:
        """Block until the container exits; its exit code, signal and OOM flag."""
        cid = self.resolve(ref)
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = 0.0
        while True:
            st = self._state(cid)
            if st["state"] == "exited":
                mark("wait done")
                return ExitStatus(st.get("exit_code", 0), st.get("signal", 0),
                                  bool(st.get("oom_killed")), st.get("error", ""))
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"container {ref} still running after {timeout}s")
            if st["state"] == "created":
                time.sleep(0.05 if left is None else min(0.05, left))
                continue
            try:
                request(self._paths(cid).socket, {"op": "wait"}, left)
            except (OSError, ProtocolError, ValueError):
                # The monitor is finishing (it writes "exited" before closing its socket): re-read
                # at once, then back off; a fixed 20 ms sleep here was most of a short run's wait.
                time.sleep(backoff)
                backoff = min(0.02, backoff * 2 or 0.001)

    # -- exec --------------------------------------------------------------------------------
    def exec(self, ref: str, argv: Sequence[str], *, env: Sequence[str] | Sequence[tuple[str, str]] = (),
             user: str = "", workdir: str = "", tty: bool = False, stdin: bytes | None = None,
             timeout: float | None = None) -> ExecResult:
        """Run ``argv`` in the running container (same namespaces, cgroup, caps, seccomp)."""
        cid = self._running(ref)
        env_list = [e if isinstance(e, str) else f"{e[0]}={e[1]}" for e in env]
        msg = {"op": "exec", "argv": list(argv), "env": env_list, "user": user, "workdir": workdir,
               "tty": tty, "stdin": base64.b64encode(stdin).decode() if stdin is not None else None,
               "timeout": timeout}
        reply = self._call(cid, msg, None if timeout is None else timeout + 30)  # not found: exit 127
        if reply.get("timed_out"):
            raise TimeoutError(f"exec {list(argv)!r} in {ref} still running after {timeout}s: killed")
        return ExecResult(reply["exit_code"], base64.b64decode(reply["stdout"]),
                          base64.b64decode(reply["stderr"]))

    def exec_stream(self, ref: str, argv: Sequence[str], *, env: Sequence[str] | Sequence[tuple[str, str]] = (),
                    user: str = "", workdir: str = "", tty: bool = False,
                    size: tuple[int, int] | None = None) -> ExecSession:
        """Start ``argv`` in the running container with live stdio (a pty when ``tty``); its session."""
        cid = self._running(ref)
        env_list = [e if isinstance(e, str) else f"{e[0]}={e[1]}" for e in env]
        msg = {"op": "exec_stream", "argv": list(argv), "env": env_list, "user": user, "workdir": workdir,
               "tty": tty, "height": size[0] if size else 0, "width": size[1] if size else 0}
        try:
            return open_exec_stream(self._paths(cid).socket, msg)
        except (FileNotFoundError, ConnectionError, ProtocolError) as exc:
            raise MonitorUnavailable(f"container {cid[:12]} is not running ({exc})") from None
        except RuntimeError as exc:
            raise EngineError(str(exc)) from None

    def attach_input(self, ref: str) -> ExecSession:
        """Input to the running container's PID 1: ``send`` feeds its stdin (``stdin_open``), ``resize`` its tty."""
        cid = self._running(ref)
        try:
            return open_exec_stream(self._paths(cid).socket, {"op": "attach_input", "tty": self._spec(cid).tty})
        except (FileNotFoundError, ConnectionError, ProtocolError) as exc:
            raise MonitorUnavailable(f"container {cid[:12]} is not running ({exc})") from None
        except RuntimeError as exc:
            raise EngineError(str(exc)) from None

    # -- remove / inspect --------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False) -> None:
        """Delete a stopped container (force: kill it first). Volumes stay."""
        cid = self.resolve(ref)
        if self._state(cid)["state"] in ("running", "paused"):
            if not force:
                raise InvalidState(f"cannot remove running container {ref}: stop it first or force")
            try:
                self._call(cid, {"op": "kill", "signal": int(_signal.SIGKILL), "all": True})
            except MonitorUnavailable:
                pass
            self.wait(cid, timeout=30)
        paths = self._paths(cid)
        st = read_json(paths.state)
        wait_gone(st.get("monitor_pid"), st.get("monitor_start"), 5.0)
        lifecycle.release_cgroup(cid)
        shutil.rmtree(paths.run_dir, ignore_errors=True)
        shutil.rmtree(paths.state_dir, ignore_errors=True)

    def _spec(self, cid: str) -> ContainerSpec:
        return spec_from_dict(self._config(cid)["spec"])

    def inspect(self, ref: str) -> ContainerInfo:
        """State, pid, exit status, times and spec of one container."""
        cid = self.resolve(ref)
        cfg, st = self._config(cid), self._state(cid)
        spec = spec_from_dict(cfg["spec"])
        return ContainerInfo(id=cid, name=cfg["name"], state=st["state"], pid=st.get("pid", 0) or 0,
                             exit_code=st.get("exit_code", 0), signal=st.get("signal", 0),
                             oom_killed=bool(st.get("oom_killed")), error=st.get("error", ""),
                             created_at=cfg.get("created_at", ""), started_at=st.get("started_at", ""),
                             finished_at=st.get("finished_at", ""), spec=spec, labels=dict(spec.labels),
                             health=(st.get("health") or {}).get("status", ""),
                             health_log=tuple((st.get("health") or {}).get("log", ())))

    def list(self) -> list[ContainerInfo]:
        """Every container under this root."""
        out = []
        for cid in self._ids():
            try:
                out.append(self.inspect(cid))
            except (OSError, ValueError, EngineError):
                continue  # removed meanwhile
        return out

    def stats(self, ref: str):
        """cgroup usage counters (engine.cgroups.CgroupStats) of a running container."""
        cid = self._running(ref)
        return lifecycle.cgroup_stats(cid)

    def logs(self, ref: str, *, follow: bool = False, since: float | str | None = None,
             tail: int | None = None, timestamps: bool = False) -> Iterator[LogLine]:
        """The container's output lines, oldest first; ``follow`` keeps going until it exits."""
        cid = self.resolve(ref)
        path = self._paths(cid).log
        since_s = lifecycle.since_seconds(since)
        lines, offset = logmod.read_with_offset(path, since_s)
        if tail is not None and tail >= 0:
            lines = lines[len(lines) - tail:] if tail else []
        for line in lines:
            yield LogLine(line.stream, line.message, line.time, timestamps)
        if follow:
            alive = lambda: self._state(cid)["state"] in ("running", "paused")  # noqa: E731
            with ExitWatch(self._paths(cid).socket) as watch:
                for line in logmod.follow(path, offset, alive, watch.pause):
                    yield LogLine(line.stream, line.message, line.time, timestamps)
