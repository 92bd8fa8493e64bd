"""Turn a ContainerSpec (+ image config) into the runtime plan the monitor executes.

The plan is a JSON dict with every path, id and default resolved, so the monitor
needs no engine logic. Command/env/workdir/user follow Docker's image defaults.
"""

from __future__ import annotations

import dataclasses
import os
import signal

from engine.errors import InvalidSpec
from engine.runtime.rootfs import DEFAULT_MASKED, DEFAULT_READONLY
from engine.spec import ContainerSpec

__all__ = ["INIT_BINARY", "INIT_PATH", "command_of", "healthcheck_of", "env_of", "user_of", "workdir_of",
           "stop_signal_of", "signal_number", "namespace_modes", "build_plan"]

INIT_BINARY = "/usr/bin/tini-static"  # Debian's tini, statically linked
INIT_PATH = "/sbin/docker-init"  # where Docker mounts its init


def command_of(spec: ContainerSpec, image: dict) -> list[str]:
    """Entrypoint + command; an overridden entrypoint drops the image's Cmd like Docker."""
    ep = list(spec.entrypoint) if spec.entrypoint is not None else list(image.get("Entrypoint") or [])
    if spec.command:
        cmd = list(spec.command)
    else:
        cmd = [] if spec.entrypoint is not None else list(image.get("Cmd") or [])
    return ep + cmd


def env_of(spec: ContainerSpec, image: dict, hostname: str) -> list[str]:
    """Image Env overridden by the spec's, plus HOSTNAME."""
    env: dict[str, str] = {}
    for item in image.get("Env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    env.setdefault("HOSTNAME", hostname)
    env.update(dict(spec.env))
    return [f"{k}={v}" for k, v in env.items()]


def user_of(spec: ContainerSpec, image: dict) -> str:
    return spec.user or image.get("User") or ""


def workdir_of(spec: ContainerSpec, image: dict) -> str:
    return spec.working_dir or image.get("WorkingDir") or "/"


def stop_signal_of(spec: ContainerSpec, image: dict) -> str:
    """The spec's stop signal, or the image's when the spec keeps the default."""
    if spec.stop_signal == "SIGTERM" and image.get("StopSignal"):
        return image["StopSignal"]
    return spec.stop_signal


def signal_number(sig: str | int) -> int:
    """``"SIGTERM"``, ``"TERM"``, ``"15"`` or 15 -> 15."""
    if isinstance(sig, int) or str(sig).isdigit():
        return int(sig)
    name = str(sig).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(getattr(signal, name))
    except AttributeError:
        raise InvalidSpec(f"invalid signal: {sig}") from None


def namespace_modes(spec: ContainerSpec, peer_pid) -> dict[str, str]:
    """Namespace kind -> "private" | "host" | path to join; ``peer_pid(id)`` finds container:<id>."""
    ns = spec.namespaces
    out = {}
    for kind, mode in (("net", ns.network), ("pid", ns.pid), ("ipc", ns.ipc), ("uts", ns.uts),
                       ("cgroup", ns.cgroup)):
        if mode.startswith("container:"):
            out[kind] = f"/proc/{peer_pid(mode.split(':', 1)[1])}/ns/{kind}"
        elif mode == "host" or mode.startswith("/"):
            out[kind] = mode
        elif mode in ("private", "none", "shareable", ""):
            out[kind] = "private"
        else:
            raise InvalidSpec(f"invalid {kind} namespace mode {mode!r}")
    return out


def healthcheck_of(spec: ContainerSpec, image: dict) -> dict | None:
    """The probe to run: the spec's, else the image's HEALTHCHECK (durations in ns); None if disabled."""
    if spec.healthcheck is not None:
        hc = dataclasses.asdict(spec.healthcheck)
    elif image.get("Healthcheck"):
        img = image["Healthcheck"]
        sec = lambda key, default: (img.get(key) or 0) / 1e9 or default  # noqa: E731
        hc = {"test": list(img.get("Test") or []), "interval": sec("Interval", 30.0),
              "timeout": sec("Timeout", 30.0), "retries": img.get("Retries") or 3,
              "start_period": sec("StartPeriod", 0.0), "start_interval": sec("StartInterval", 5.0)}
    else:
        return None
    test = list(hc["test"])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        hc["argv"] = ["/bin/sh", "-c", " ".join(test[1:])]
    else:
        hc["argv"] = test[1:] if test[0] == "CMD" else test
    return hc


def _mounts(spec: ContainerSpec, volume_path) -> list[dict]:
    out = []
    for m in spec.mounts:
        entry = {"type": "tmpfs" if m.type == "tmpfs" else "bind", "target": m.target,
                 "read_only": m.read_only, "propagation": m.propagation, "options": list(m.options),
                 "size": m.tmpfs_size, "mode": m.tmpfs_mode}
        if m.type == "bind":
            entry["source"] = m.source
        elif m.type == "volume":
            base = volume_path(m.source)
            entry["source"] = os.path.join(base, m.subpath.lstrip("/")) if m.subpath else base
        out.append(entry)
    return out


def build_plan(spec: ContainerSpec, cid: str, state_dir: str, lower: list[str], image: dict,
               ns_modes: dict[str, str], *, volume_path, devices: list[dict], caps: int | None,
               seccomp_bpf: str) -> dict:
    """The complete runtime plan for one start of the container."""
    hostname = spec.hostname or cid[:12]
    sec = spec.security
    if spec.init and not os.path.isfile(INIT_BINARY):
        raise InvalidSpec(f"init requested but {INIT_BINARY} is missing (apt-get install tini)")
    return {
        "id": cid, "hostname": hostname, "domainname": spec.domainname,
        "lower": lower, "upper": os.path.join(state_dir, "upper"),
        "work": os.path.join(state_dir, "work"), "merged": os.path.join(state_dir, "merged"),
        "mounts": _mounts(spec, volume_path),
        "etc_files": {f"/etc/{n}": os.path.join(state_dir, n) for n in ("hosts", "hostname", "resolv.conf")},
        "init_binary": INIT_BINARY if spec.init else "", "init_path": INIT_PATH if spec.init else "",
        "argv": command_of(spec, image), "env": env_of(spec, image, hostname),
        "cwd": workdir_of(spec, image), "user": user_of(spec, image), "group_add": list(spec.group_add),
        "tty": spec.tty, "stdin_open": spec.stdin_open, "namespaces": ns_modes,
        "shm_size": spec.resources.shm_size, "healthcheck": healthcheck_of(spec, image),
        "masked_paths": [] if sec.privileged else list(sec.masked_paths if sec.masked_paths is not None
                                                       else DEFAULT_MASKED),
        "readonly_paths": [] if sec.privileged else list(sec.readonly_paths if sec.readonly_paths is not None
                                                         else DEFAULT_READONLY),
        "sysctls": [list(kv) for kv in sec.sysctls],
        "rlimits": [[u.name, u.soft, u.hard] for u in spec.resources.ulimits],
        "oom_score_adj": spec.resources.oom_score_adj, "devices": devices,
        "read_only_rootfs": sec.read_only_rootfs, "no_new_privs": sec.no_new_privileges,
        "caps": caps, "seccomp_bpf": seccomp_bpf, "cgroup": cid,
        "resources": dataclasses.asdict(spec.resources),
        "cgroup_devices": [dataclasses.asdict(d) for d in sec.devices],
        "log": {"driver": spec.log.driver, "max_size": spec.log.max_size, "max_file": spec.log.max_file},
    }
