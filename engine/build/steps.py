"""Pure semantics of metadata instructions: how each one changes the image config.

ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR (path part), CMD, ENTRYPOINT, SHELL,
STOPSIGNAL, HEALTHCHECK, ONBUILD and MAINTAINER act on the config dict only;
argument splitting follows Dockerfile rules (``k=v`` pairs, legacy ``ENV k v``).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Callable

from engine.build.dockerfile import DockerfileError, Instruction, raw_words

__all__ = ["pairs", "set_env", "env_dict", "expose_ports", "shell_or_exec", "parse_duration",
           "healthcheck", "apply_meta", "DEFAULT_SHELL", "join_workdir"]

DEFAULT_SHELL = ["/bin/sh", "-c"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}

Expand = Callable[[str], str]


def _err(ins: Instruction, message: str) -> DockerfileError:
    return DockerfileError(message, ins.line)


def pairs(ins: Instruction, expand: Expand, escape: str = "\\") -> list[tuple[str, str]]:
    """``k=v`` pairs of ENV/LABEL (values expanded, quotes removed), or the legacy ``k v...`` form."""
    words = raw_words(ins.args, escape)
    if not words:
        raise _err(ins, f"{ins.cmd} requires at least one argument")
    if "=" not in words[0]:
        if len(words) < 2:
            raise _err(ins, f"{ins.cmd} names {words[0]} but gives no value (use {words[0]}=value)")
        value = ins.args.strip()[len(words[0]):].strip()
        return [(expand(words[0]), expand(value))]
    out = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise _err(ins, f"{ins.cmd}: syntax error in {word!r}: expected key=value")
        out.append((expand(key), expand(value)))
    return out


def env_dict(runtime: dict[str, Any]) -> dict[str, str]:
    """The config's Env list as an ordered dict."""
    out: dict[str, str] = {}
    for item in runtime.get("Env") or []:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def set_env(runtime: dict[str, Any], items: list[tuple[str, str]]) -> None:
    """Set Env entries, replacing earlier values in place."""
    env = env_dict(runtime)
    env.update(items)
    runtime["Env"] = [f"{k}={v}" for k, v in env.items()]


def expose_ports(ins: Instruction, words: list[str]) -> list[str]:
    """``80``, ``53/udp``, ``8000-8002`` -> ``["80/tcp", "53/udp", ...]``."""
    out = []
    for word in words:
        port, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise _err(ins, f"EXPOSE: invalid protocol {proto!r} in {word!r}")
        lo, _, hi = port.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise _err(ins, f"EXPOSE: invalid port {word!r}")
        out.extend(f"{p}/{proto}" for p in range(int(lo), int(hi or lo) + 1))
    return out


def shell_or_exec(ins: Instruction, shell: list[str]) -> list[str]:
    """The argv of CMD/ENTRYPOINT/RUN: exec form as is, shell form wrapped in SHELL."""
    if ins.json is not None:
        return list(ins.json)
    return [*shell, ins.args]


def parse_duration(ins: Instruction, text: str) -> int:
    """A Go duration (``30s``, ``1m30s``, ``500ms``) in nanoseconds."""
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(float(m.group(1)) * _UNIT_NS[m.group(2)])
        pos = m.end()
    if pos != len(text) or not text:
        raise _err(ins, f"HEALTHCHECK: invalid duration {text!r}")
    return total


def healthcheck(ins: Instruction, shell: list[str], expand: Expand) -> dict[str, Any]:
    """The config's Healthcheck from ``HEALTHCHECK [opts] CMD ...`` or ``NONE``."""
    rest = ins.args.strip()
    kind, _, body = rest.partition(" ")
    if kind.upper() == "NONE":
        if body.strip() or ins.flags:
            raise _err(ins, "HEALTHCHECK NONE takes no arguments or options")
        return {"Test": ["NONE"]}
    if kind.upper() != "CMD" or not body.strip():
        raise _err(ins, "HEALTHCHECK must be NONE or CMD <command>")
    body = body.strip()
    try:
        import json
        argv = json.loads(body) if body.startswith("[") else None
    except ValueError:
        argv = None
    test = ["CMD", *argv] if isinstance(argv, list) else ["CMD-SHELL", body]
    hc: dict[str, Any] = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        value = ins.flag(flag)
        if value:
            hc[key] = parse_duration(ins, expand(value))
    retries = ins.flag("retries")
    if retries:
        if not expand(retries).isdigit() or int(expand(retries)) < 1:
            raise _err(ins, f"HEALTHCHECK: --retries must be a positive integer, not {retries!r}")
        hc["Retries"] = int(expand(retries))
    return hc


def join_workdir(current: str, path: str) -> str:
    """WORKDIR semantics: relative paths extend the current one."""
    return posixpath.normpath(posixpath.join(current or "/", path))


def apply_meta(ins: Instruction, runtime: dict[str, Any], expand: Expand, words: Callable[[str], list[str]],
               escape: str, stage_flags: dict[str, bool]) -> None:
    """Apply one metadata-only instruction to ``runtime`` (the config section)."""
    cmd = ins.cmd
    shell = list(runtime.get("Shell") or DEFAULT_SHELL)
    if cmd == "ENV":
        set_env(runtime, pairs(ins, expand, escape))
    elif cmd == "LABEL":
        runtime["Labels"] = {**(runtime.get("Labels") or {}), **dict(pairs(ins, expand, escape))}
    elif cmd == "MAINTAINER":
        runtime.setdefault("Labels", runtime.get("Labels") or {})  # kept as the config author
    elif cmd == "EXPOSE":
        ports = expose_ports(ins, words(ins.args))
        runtime["ExposedPorts"] = {**(runtime.get("ExposedPorts") or {}), **{p: {} for p in ports}}
    elif cmd == "VOLUME":
        paths = list(ins.json) if ins.json is not None else words(ins.args)
        if not paths or any(not p.strip() for p in paths):
            raise _err(ins, "VOLUME specified can not be an empty string")
        runtime["Volumes"] = {**(runtime.get("Volumes") or {}), **{expand(p) if ins.json else p: {}
                                                                   for p in paths}}
    elif cmd == "USER":
        user = expand(ins.args.strip())
        if not user:
            raise _err(ins, "USER requires an argument")
        runtime["User"] = user
    elif cmd == "CMD":
        runtime["Cmd"] = shell_or_exec(ins, shell)
        stage_flags["cmd_set"] = True
    elif cmd == "ENTRYPOINT":
        runtime["Entrypoint"] = shell_or_exec(ins, shell) if ins.args.strip() else None
        if not stage_flags.get("cmd_set"):
            runtime["Cmd"] = None  # an inherited CMD is reset by ENTRYPOINT, like Docker
    elif cmd == "SHELL":
        if ins.json is None or not ins.json:
            raise _err(ins, "SHELL requires the JSON form: SHELL [\"executable\", \"parameters\"]")
        runtime["Shell"] = list(ins.json)
    elif cmd == "STOPSIGNAL":
        sig = expand(ins.args.strip())
        if not re.fullmatch(r"(SIG)?[A-Z0-9+-]+|\d+", sig.upper()):
            raise _err(ins, f"STOPSIGNAL: invalid signal {sig!r}")
        runtime["StopSignal"] = sig
    elif cmd == "HEALTHCHECK":
        runtime["Healthcheck"] = healthcheck(ins, shell, expand)
    elif cmd == "ONBUILD":
        assert ins.sub is not None
        runtime["OnBuild"] = [*(runtime.get("OnBuild") or []), ins.args.strip()]
    else:
        raise _err(ins, f"{cmd} is not a metadata instruction")
