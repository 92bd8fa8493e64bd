"""The only compose -> engine converter: one replica of a service becomes a ContainerSpec.

Everything a service declares that the engine enforces goes through here, so
"does X reach the container?" has one answer. Where Compose and Docker fill a
default from the image (command, entrypoint, healthcheck), ``image_config``
(the OCI image config: ``Entrypoint``, ``Cmd``, ``Healthcheck`` ...) resolves
it; without it the engine applies the image's values itself.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping, Sequence

from engine.spec import (ContainerSpec, DeviceSpec, HealthcheckSpec, LogSpec, MountSpec,
                         NamespaceSpec, NetworkAttachment, ResourceSpec, SecuritySpec, Ulimit)
from orchestrator.compose.model import Project, Service, Volume
from orchestrator.compose.units import SECOND, parse_bytes
from orchestrator.reconciler.hash import config_hash
from orchestrator.to_spec_files import projected_mounts

__all__ = ["container_spec", "container_name", "compose_labels", "anonymous_volume_name", "SHOAL_VERSION"]

SHOAL_VERSION = "0.1.0"
_L = "com.docker.compose."


def container_name(project: Project, service: Service, number: int) -> str:
    """``container_name`` or ``<project>-<service>-<n>``."""
    return service.container_name or f"{project.name}-{service.name}-{number}"


def anonymous_volume_name(project: Project, service: Service, number: int, target: str) -> str:
    """A stable engine name for a slot's anonymous volume, so a recreate keeps it (as Compose does)."""
    digest = hashlib.sha256(target.encode()).hexdigest()[:12]
    return f"{project.name}_{service.name}_{number}_anon_{digest}"


def _x(service: Service, key: str, default: Any = None) -> Any:
    return service.extras.get(key, default)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, (str, int)) else tuple(str(v) for v in value)


# -- process ---------------------------------------------------------------------------------------
def _command(service: Service, image: Mapping[str, Any] | None) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(entrypoint, command) as Docker resolves them: a set entrypoint drops the image's Cmd."""
    entry = service.entrypoint
    if entry is not None and tuple(entry) in ((), ("",)):
        entry = ()
    command = tuple(service.command or ())
    if image is None:
        return (None if entry is None else tuple(entry)), command
    resolved_entry = tuple(entry) if entry is not None else tuple(image.get("Entrypoint") or ())
    if not command and entry is None:
        command = tuple(image.get("Cmd") or ())
    return resolved_entry, command


def _env(service: Service) -> tuple[tuple[str, str], ...]:
    # A variable without a value that the loader could not resolve is left out, as Compose does.
    return tuple((k, v) for k, v in service.environment.items() if v is not None)


# -- mounts ------------------------------------------------------------------------------------------
def _tmpfs_mode(raw: Any) -> int:
    """Octal mode; YAML 1.2 reads ``0755`` as 755, so decimal digits 0-7 are taken as octal text."""
    if raw is None:
        return 0o1777
    text = str(raw)
    if isinstance(raw, str) or (len(text) <= 4 and set(text) <= set("01234567")):
        return int(text, 8)
    return int(raw)


def _volume_mount(project: Project, service: Service, number: int, vol: Volume) -> MountSpec:
    if vol.type == "bind":
        opts = vol.bind or {}
        return MountSpec("bind", vol.target, vol.source or "", vol.read_only,
                         propagation=str(opts.get("propagation") or ""),
                         create_host_path=vol.create_host_path)
    if vol.type == "tmpfs":
        opts = vol.tmpfs or {}
        return MountSpec("tmpfs", vol.target, read_only=vol.read_only, tmpfs_size=vol.tmpfs_size or 0,
                         tmpfs_mode=_tmpfs_mode(opts.get("mode")))
    if vol.type != "volume":
        raise ValueError(f'service "{service.name}": unsupported mount type "{vol.type}" for {vol.target}')
    opts = vol.volume or {}
    if vol.source:
        top = project.volumes.get(vol.source)
        name = top.name if top is not None and top.name else f"{project.name}_{vol.source}"
    else:
        name = anonymous_volume_name(project, service, number, vol.target)
    return MountSpec("volume", vol.target, name, vol.read_only, subpath=str(opts.get("subpath") or ""),
                     options=("nocopy",) if opts.get("nocopy") else ())


def _tmpfs_extra(entry: str) -> MountSpec:
    """Service-level ``tmpfs: /path[:size=1m,mode=755]``."""
    target, _, raw = entry.partition(":")
    size, mode, options = 0, 0o1777, []
    for opt in filter(None, raw.split(",")):
        key, _, value = opt.partition("=")
        if key == "size":
            size = parse_bytes(value)
        elif key == "mode":
            mode = int(value, 8)
        else:
            options.append(opt)
    return MountSpec("tmpfs", target, tmpfs_size=size, tmpfs_mode=mode, options=tuple(options))


def _mounts(project: Project, service: Service, number: int, files_dir: str) -> tuple[MountSpec, ...]:
    mounts = [_volume_mount(project, service, number, v) for v in service.volumes]
    mounts += [_tmpfs_extra(t) for t in _strings(_x(service, "tmpfs"))]
    mounts += projected_mounts(project, service, files_dir)
    return tuple(mounts)


# -- resources and security ------------------------------------------------------------------------
def _resources(service: Service) -> ResourceSpec:
    limits = service.deploy.limits if service.deploy else None
    reservations = (service.deploy.resources or {}).get("reservations") if service.deploy else None
    memory = service.mem_limit or (limits.memory if limits else None) or 0
    cpus = service.cpus or (limits.cpus if limits else None) or 0.0
    pids = _x(service, "pids_limit") or (limits.pids if limits else None) or 0
    reservation = service.mem_reservation or (reservations.memory if reservations else None) or 0
    blkio = _x(service, "blkio_config") or {}
    return ResourceSpec(
        memory=memory, memory_swap=service.memswap_limit or 0, memory_reservation=reservation,
        cpus=float(cpus), cpu_shares=int(_x(service, "cpu_shares") or 0),
        cpuset_cpus=str(_x(service, "cpuset") or ""), pids_limit=int(pids),
        oom_score_adj=int(_x(service, "oom_score_adj") or 0),
        oom_kill_disable=bool(_x(service, "oom_kill_disable", False)),
        shm_size=service.shm_size or ResourceSpec().shm_size,
        ulimits=tuple(Ulimit(k, u.soft, u.hard) for k, u in sorted(service.ulimits.items())),
        blkio_weight=int(blkio.get("weight") or 0),
    )


def _device(raw: Any) -> DeviceSpec:
    if isinstance(raw, Mapping):
        return DeviceSpec(raw["source"], raw.get("target") or raw["source"], raw.get("permissions") or "rwm")
    parts = str(raw).split(":")
    host = parts[0]
    target = parts[1] if len(parts) > 1 else host
    return DeviceSpec(host, target, parts[2] if len(parts) > 2 else "rwm")


def _sysctls(raw: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, Mapping):
        return tuple((k, str(v)) for k, v in sorted(raw.items()))
    return tuple(tuple(s.split("=", 1)) for s in _strings(raw))  # type: ignore[misc]


def _security(service: Service) -> SecuritySpec:
    no_new_privs, seccomp = False, "default"
    for opt in _strings(_x(service, "security_opt")):
        key, _, value = opt.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges":
            no_new_privs = value in ("", "true")
        elif key == "seccomp":
            seccomp = value
        else:
            raise ValueError(f'service "{service.name}": unsupported security_opt "{opt}"')
    return SecuritySpec(
        privileged=bool(_x(service, "privileged", False)),
        cap_add=_strings(_x(service, "cap_add")), cap_drop=_strings(_x(service, "cap_drop")),
        no_new_privileges=no_new_privs, seccomp=seccomp,
        devices=tuple(_device(d) for d in _x(service, "devices") or ()),
        sysctls=_sysctls(_x(service, "sysctls") or {}),
        read_only_rootfs=bool(_x(service, "read_only", False)),
    )


def _namespace_ref(project: Project, mode: str | None) -> str:
    """``host``/``none``/``private``/``container:x`` from a compose mode (``service:x`` = its replica 1)."""
    if not mode:
        return "private"
    if mode.startswith("service:"):
        other = project.service(mode.split(":", 1)[1])
        return f"container:{container_name(project, other, 1)}"
    if mode == "bridge":
        return "private"
    return mode


def _namespaces(project: Project, service: Service, networks_ns: str) -> NamespaceSpec:
    network = _namespace_ref(project, service.network_mode)
    if network == "private" and networks_ns:
        network = networks_ns
    return NamespaceSpec(network=network, pid=_namespace_ref(project, _x(service, "pid")),
                         ipc=_namespace_ref(project, _x(service, "ipc")),
                         uts=_namespace_ref(project, _x(service, "uts")))


# -- health, logs, networking, labels ------------------------------------------------------------------
def _healthcheck(service: Service, image: Mapping[str, Any] | None) -> HealthcheckSpec | None:
    check = service.healthcheck
    image_check = (image or {}).get("Healthcheck") or {}
    if check is not None and check.disabled:
        return None
    test = tuple(check.test) if check is not None and check.test else tuple(image_check.get("Test") or ())
    if not test or test[0] == "NONE":
        return None
    if test[0] not in ("CMD", "CMD-SHELL"):
        test = ("CMD-SHELL", " ".join(test))

    def pick(name: str, image_key: str, default: float) -> float:
        value = getattr(check, name, None) if check is not None else None
        if value:
            return float(value)
        ns = image_check.get(image_key)
        return ns / SECOND if ns else default

    retries = (check.retries if check is not None else None) or image_check.get("Retries") or 3
    return HealthcheckSpec(test=test, interval=pick("interval", "Interval", 30.0),
                           timeout=pick("timeout", "Timeout", 30.0), retries=int(retries),
                           start_period=pick("start_period", "StartPeriod", 0.0),
                           start_interval=pick("start_interval", "StartInterval", 5.0))


def _log(service: Service) -> LogSpec:
    logging = _x(service, "logging") or {}
    options = logging.get("options") or {}
    driver = logging.get("driver") or "json-file"
    if driver not in ("json-file", "none", "local"):
        raise ValueError(f'service "{service.name}": unsupported logging driver "{driver}"')
    default = LogSpec()
    size = options.get("max-size")
    return LogSpec(driver="json-file" if driver == "local" else driver,
                   max_size=parse_bytes(size) if size not in (None, "-1") else (0 if size == "-1" else default.max_size),
                   max_file=int(options.get("max-file") or default.max_file))


def _networks(project: Project, service: Service) -> tuple[NetworkAttachment, ...]:
    """One interface per network, highest priority first (then by name), like Compose."""
    if service.network_mode:
        return ()
    nets = service.networks or {"default": None}
    ordered = sorted(nets.items(), key=lambda kv: (-((kv[1].priority if kv[1] else None) or 0), kv[0]))
    out = []
    for i, (key, conf) in enumerate(ordered):
        top = project.networks.get(key)
        name = top.name if top is not None and top.name else f"{project.name}_{key}"
        aliases = (service.name, *(conf.aliases if conf else ()))
        out.append(NetworkAttachment(network=name, interface=f"eth{i}",
                                     ipv4_address=(conf.ipv4_address if conf else None) or "",
                                     ipv6_address=(conf.ipv6_address if conf else None) or "",
                                     mac_address=(conf.mac_address if conf else None) or "",
                                     aliases=tuple(dict.fromkeys(aliases))))
    return tuple(out)


def _extra_hosts(raw: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, Mapping):
        items = [(k, v) for k, vs in raw.items() for v in _strings(vs)]
        return tuple((str(k), str(v)) for k, v in items)
    out = []
    for entry in _strings(raw):
        host, sep, ip = entry.partition("=")
        if not sep:
            host, _, ip = entry.partition(":")
        out.append((host, ip.strip("[]")))
    return tuple(out)


def compose_labels(project: Project, service: Service, number: int, *, working_dir: str = "",
                   config_files: Sequence[str] = (), oneoff: bool = False,
                   image: str = "", image_id: str = "") -> dict[str, str]:
    """The ``com.docker.compose.*`` labels Compose puts on a container."""
    depends = ",".join(f"{name}:{edge.condition}:{str(edge.restart).lower()}"
                       for name, edge in service.depends_on.items())
    return {
        _L + "project": project.name,
        _L + "service": service.name,
        _L + "container-number": str(number),
        _L + "oneoff": "True" if oneoff else "False",
        _L + "project.working_dir": working_dir,
        _L + "project.config_files": ",".join(config_files),
        _L + "config-hash": config_hash(service, image_id),
        _L + "depends_on": depends,
        _L + "version": SHOAL_VERSION,
        _L + "image": image_id or image,
    }


def container_spec(project: Project, service: Service, number: int, *,
                   image_config: Mapping[str, Any] | None = None, networks_ns: str = "",
                   extra_labels: Iterable[tuple[str, str]] = (), working_dir: str = "",
                   config_files: Sequence[str] = (), oneoff: bool = False,
                   name: str | None = None, files_dir: str = "", image_id: str = "") -> ContainerSpec:
    """The engine spec of replica ``number`` of ``service``.

    ``networks_ns``: a netns path to join; ``files_dir``: where the daemon wrote the
    container's secrets and configs (:func:`to_spec_files.materialize`); ``image_id``:
    what the image resolved to, part of the config hash (a new image recreates).
    """
    rootfs = service.image or f"{project.name}-{service.name}"
    entrypoint, command = _command(service, image_config)
    labels = dict(service.labels)
    labels.update(compose_labels(project, service, number, working_dir=working_dir,
                                 config_files=config_files, oneoff=oneoff, image=rootfs,
                                 image_id=image_id))
    labels.update(dict(extra_labels))
    grace = service.stop_grace_period
    return ContainerSpec(
        name=name or container_name(project, service, number),
        rootfs=rootfs,
        command=command,
        entrypoint=entrypoint,
        env=_env(service),
        working_dir=service.working_dir or "",
        user=service.user or "",
        group_add=_strings(_x(service, "group_add")),
        hostname=service.hostname or "",
        domainname=str(_x(service, "domainname") or ""),
        mounts=_mounts(project, service, number, files_dir),
        namespaces=_namespaces(project, service, networks_ns),
        resources=_resources(service),
        security=_security(service),
        init=True if service.init is None else service.init,
        tty=bool(_x(service, "tty", False)),
        stdin_open=bool(_x(service, "stdin_open", False)),
        stop_signal=service.stop_signal or "SIGTERM",
        stop_grace_period=10.0 if grace is None else grace,
        log=_log(service),
        labels=tuple(sorted(labels.items())),
        extra_hosts=_extra_hosts(_x(service, "extra_hosts")),
        dns=_strings(_x(service, "dns")),
        dns_search=_strings(_x(service, "dns_search")),
        dns_options=_strings(_x(service, "dns_opt")),
        networks=_networks(project, service),
        healthcheck=_healthcheck(service, image_config),
    )
