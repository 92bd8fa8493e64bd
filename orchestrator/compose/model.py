"""The typed, immutable project model built from the normalised dict.

``Project.from_dict`` reads what :func:`normalize.normalize` returns; every
dataclass keeps the keys it does not model in ``extras`` so ``to_dict`` gives
the same data back. Durations are float seconds and byte sizes ints here
(the dict keeps Compose's printed forms: ``1m30s``, ``"536870912"``).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType
from typing import Any, Mapping

from .errors import ComposeError
from .units import format_duration, parse_bytes, parse_duration, SECOND

__all__ = [
    "Project", "Service", "Port", "Volume", "ServiceNetwork", "DependsOn", "Healthcheck",
    "Deploy", "Resources", "RestartPolicy", "UpdateConfig", "Network", "NamedVolume",
    "Secret", "Config", "Build", "FileRef", "Ulimit",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def _freeze(value: Any) -> Any:
    """Deep-freeze plain data: dicts become read-only mappings, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _secs(value: Any) -> float | None:
    return None if value is None else parse_duration(value) / SECOND


def _dur(value: float | None) -> str | None:
    return None if value is None else format_duration(round(value * SECOND))


def _bytes(value: Any) -> int | None:
    return None if value is None else parse_bytes(value)


def _default(f: Any) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _is_empty_default(value: Any, default: Any) -> bool:
    """False/empty values left at their default are omitted, as Compose's omitempty does."""
    if (value is False and default is False) or (value == "" and default == ""):
        return True
    return isinstance(value, (tuple, Mapping)) and not value and value == default


class _Base:
    """Shared ``from_dict``/``to_dict`` for flat records: fields map 1:1 to keys."""

    __slots__ = ()
    _convert: dict[str, tuple[Any, Any]] = {}  # field -> (from dict, to dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Any:
        data = dict(data or {})
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name == "extras" or f.name not in data:
                continue
            raw = data.pop(f.name)
            conv = cls._convert.get(f.name)
            kwargs[f.name] = conv[0](raw) if conv and raw is not None else _freeze(raw)
        return cls(**kwargs, extras=_freeze(data))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "extras" or value is None or _is_empty_default(value, _default(f)):
                continue
            conv = self._convert.get(f.name)
            out[f.name] = conv[1](value) if conv else _thaw(value)
        out.update(_thaw(self.extras))
        return out


def _rec(cls: Any) -> tuple[Any, Any]:
    return (cls.from_dict, lambda v: v.to_dict())


def _recs(cls: Any) -> tuple[Any, Any]:
    return (lambda raw: tuple(cls.from_dict(x) for x in raw), lambda v: [x.to_dict() for x in v])


def _rec_map(cls: Any) -> tuple[Any, Any]:
    return (
        lambda raw: MappingProxyType({k: cls.from_dict(v) for k, v in raw.items()}),
        lambda v: {k: x.to_dict() for k, x in v.items()},
    )


_DURATION = (_secs, _dur)
_BYTES = (_bytes, str)


@dataclass(frozen=True, slots=True)
class Port(_Base):
    """One published or exposed container port (long syntax)."""

    target: int = 0
    published: str | None = None
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Volume(_Base):
    """One service mount: ``bind``, ``volume``, ``tmpfs``... (long syntax)."""

    type: str = "volume"
    source: str | None = None
    target: str = ""
    read_only: bool = False
    consistency: str | None = None
    bind: Mapping[str, Any] | None = None
    volume: Mapping[str, Any] | None = None
    tmpfs: Mapping[str, Any] | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def create_host_path(self) -> bool:
        """Compose creates a missing bind source unless told not to."""
        return bool((self.bind or {}).get("create_host_path", True))

    @property
    def tmpfs_size(self) -> int | None:
        size = (self.tmpfs or {}).get("size")
        return None if size is None else parse_bytes(size)


@dataclass(frozen=True, slots=True)
class ServiceNetwork(_Base):
    """How a service attaches to one network."""

    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    mac_address: str | None = None
    priority: int | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class DependsOn(_Base):
    """One dependency edge: wait for ``condition``; ``restart`` follows the dependency."""

    condition: str = "service_started"
    required: bool = True
    restart: bool = False
    extras: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Healthcheck(_Base):
    """The probe; unset timings mean the engine's defaults."""

    test: tuple[str, ...] = ()
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None
    disable: bool = False
    extras: Mapping[str, Any] = field(default_factory=_empty)
    _convert = {k: _DURATION for k in ("interval", "timeout", "start_period", "start_interval")}

    @property
    def disabled(self) -> bool:
        return self.disable or (bool(self.test) and self.test[0] == "NONE")


@dataclass(frozen=True, slots=True)
class Resources(_Base):
    """Limits or reservations: cpus as float, memory in bytes."""

    cpus: float | None = None
    memory: int | None = None
    pids: int | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)
    _convert = {"memory": _BYTES}


@dataclass(frozen=True, slots=True)
class RestartPolicy(_Base):
    """``deploy.restart_policy``."""

    condition: str | None = None
    delay: float | None = None
    max_attempts: int | None = None
    window: float | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)
    _convert = {"delay": _DURATION, "window": _DURATION}


@dataclass(frozen=True, slots=True)
class UpdateConfig(_Base):
    """``deploy.update_config`` / ``rollback_config``."""

    parallelism: int | None = None
    delay: float | None = None
    failure_action: str | None = None
    monitor: float | None = None
    max_failure_ratio: float | None = None
    order: str | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)
    _convert = {"delay": _DURATION, "monitor": _DURATION}


def _resources_in(raw: Mapping[str, Any]) -> Mapping[str, Resources]:
    return MappingProxyType({k: Resources.from_dict(v) for k, v in raw.items()})


@dataclass(frozen=True, slots=True)
class Deploy(_Base):
    """``deploy``: replicas, resources (``limits``/``reservations``), policies."""

    mode: str | None = None
    replicas: int | None = None
    resources: Mapping[str, Resources] | None = None
    restart_policy: RestartPolicy | None = None
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    labels: Mapping[str, str] | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)
    _convert = {
        "resources": (_resources_in, lambda v: {k: r.to_dict() for k, r in v.items()}),
        "restart_policy": _rec(RestartPolicy),
        "update_config": _rec(UpdateConfig),
        "rollback_config": _rec(UpdateConfig),
    }

    @property
    def limits(self) -> Resources | None:
        return (self.resources or {}).get("limits")


@dataclass(frozen=True, slots=True)
class Build(_Base):
    """``build``: context is an absolute path or a URL."""

    context: str = "."
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: Mapping[str, str | None] | None = None
    target: str | None = None
    tags: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class FileRef(_Base):
    """A service's use of a secret or config (``mode`` is the octal text)."""

    source: str = ""
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: str | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def mode_bits(self) -> int | None:
        return None if self.mode is None else int(self.mode, 8)


@dataclass(frozen=True, slots=True)
class Ulimit:
    """A soft/hard limit pair (Compose's ``nproc: 65535`` is soft = hard)."""

    soft: int
    hard: int

    @classmethod
    def from_value(cls, value: Any) -> "Ulimit":
        try:
            if isinstance(value, Mapping):
                return cls(int(value["soft"]), int(value["hard"]))
            return cls(int(value), int(value))
        except (KeyError, TypeError, ValueError):
            raise ComposeError(f"ulimit must be an integer or {{soft, hard}}: {value!r}") from None

    def to_value(self) -> Any:
        return self.soft if self.soft == self.hard else {"soft": self.soft, "hard": self.hard}


def _ulimits_in(raw: Mapping[str, Any]) -> Mapping[str, Ulimit]:
    return MappingProxyType({k: Ulimit.from_value(v) for k, v in raw.items()})


def _networks_in(raw: Mapping[str, Any]) -> Mapping[str, ServiceNetwork | None]:
    return MappingProxyType(
        {k: (None if v is None else ServiceNetwork.from_dict(v)) for k, v in raw.items()}
    )


def _networks_out(value: Mapping[str, ServiceNetwork | None]) -> dict[str, Any]:
    return {k: (None if v is None else v.to_dict()) for k, v in value.items()}


@dataclass(frozen=True, slots=True)
class Service(_Base):
    """One service of the project, in long syntax; unmodelled keys live in ``extras``."""

    name: str = ""
    image: str | None = None
    build: Build | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str | None] = field(default_factory=_empty)
    labels: Mapping[str, str] = field(default_factory=_empty)
    ports: tuple[Port, ...] = ()
    volumes: tuple[Volume, ...] = ()
    networks: Mapping[str, ServiceNetwork | None] = field(default_factory=_empty)
    network_mode: str | None = None
    depends_on: Mapping[str, DependsOn] = field(default_factory=_empty)
    healthcheck: Healthcheck | None = None
    deploy: Deploy | None = None
    scale: int | None = None
    restart: str | None = None
    container_name: str | None = None
    hostname: str | None = None
    user: str | None = None
    working_dir: str | None = None
    init: bool | None = None
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    secrets: tuple[FileRef, ...] = ()
    configs: tuple[FileRef, ...] = ()
    ulimits: Mapping[str, Ulimit] = field(default_factory=_empty)
    mem_limit: int | None = None
    mem_reservation: int | None = None
    memswap_limit: int | None = None
    shm_size: int | None = None
    cpus: float | None = None
    profiles: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=_empty)
    _convert = {
        "build": _rec(Build),
        "ports": _recs(Port),
        "volumes": _recs(Volume),
        "networks": (_networks_in, _networks_out),
        "depends_on": _rec_map(DependsOn),
        "healthcheck": _rec(Healthcheck),
        "deploy": _rec(Deploy),
        "stop_grace_period": _DURATION,
        "secrets": _recs(FileRef),
        "configs": _recs(FileRef),
        "ulimits": (_ulimits_in, lambda v: {k: u.to_value() for k, u in v.items()}),
        **{k: _BYTES for k in ("mem_limit", "mem_reservation", "memswap_limit", "shm_size")},
    }

    @property
    def replicas(self) -> int:
        """How many containers to run: ``scale``, else ``deploy.replicas``, else 1."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1

    def networks_by_priority(self) -> list[str]:
        """Network keys, highest ``priority`` first, then by name (the engine's attach order)."""
        def key(name: str) -> tuple[int, str]:
            net = self.networks[name]
            return (-((net.priority if net is not None else None) or 0), name)

        return sorted(self.networks, key=key)

    def to_dict(self) -> dict[str, Any]:
        out = _Base.to_dict(self)
        out.pop("name", None)
        for key in ("environment", "labels", "networks", "depends_on", "ulimits"):
            if out.get(key) == {}:
                del out[key]
        for key in ("ports", "volumes", "secrets", "configs", "profiles"):
            if out.get(key) == []:
                del out[key]
        return out


@dataclass(frozen=True, slots=True)
class Network(_Base):
    """A top-level network; ``name`` is the engine-side name."""

    name: str | None = None
    driver: str | None = None
    external: bool = False
    internal: bool = False
    ipam: Mapping[str, Any] | None = None
    labels: Mapping[str, str] | None = None
    enable_ipv6: bool | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class NamedVolume(_Base):
    """A top-level volume; ``name`` is the engine-side name."""

    name: str | None = None
    driver: str | None = None
    driver_opts: Mapping[str, str] | None = None
    external: bool = False
    labels: Mapping[str, str] | None = None
    extras: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Secret(_Base):
    """A top-level secret: from a ``file``, an ``environment`` variable or ``content``."""

    name: str | None = None
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    extras: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Config(_Base):
    """A top-level config (same sources as a secret)."""

    name: str | None = None
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    extras: Mapping[str, Any] = field(default_factory=_empty)


def _unbool(data: dict[str, Any]) -> dict[str, Any]:
    """Drop ``external``/``internal`` at their ``False`` default so round trips are exact."""
    return {k: v for k, v in data.items() if not (k in ("external", "internal") and v is False)}


def _section(cls: Any) -> tuple[Any, Any]:
    return (
        lambda raw: MappingProxyType({k: cls.from_dict(v) for k, v in raw.items()}),
        lambda v: {k: _unbool(x.to_dict()) for k, x in v.items()},
    )


@dataclass(frozen=True, slots=True)
class Project(_Base):
    """A loaded project: services by name plus the resources they use."""

    name: str = ""
    services: Mapping[str, Service] = field(default_factory=_empty)
    networks: Mapping[str, Network] = field(default_factory=_empty)
    volumes: Mapping[str, NamedVolume] = field(default_factory=_empty)
    secrets: Mapping[str, Secret] = field(default_factory=_empty)
    configs: Mapping[str, Config] = field(default_factory=_empty)
    extras: Mapping[str, Any] = field(default_factory=_empty)
    _convert = {
        "services": (
            lambda raw: MappingProxyType(
                {k: Service.from_dict({**(v or {}), "name": k}) for k, v in raw.items()}
            ),
            lambda v: {k: s.to_dict() for k, s in v.items()},
        ),
        "networks": _section(Network),
        "volumes": _section(NamedVolume),
        "secrets": _section(Secret),
        "configs": _section(Config),
    }

    def service(self, name: str) -> Service:
        """The service called ``name``; a ComposeError names it when it does not exist."""
        try:
            return self.services[name]
        except KeyError:
            raise ComposeError(f"no such service: {name}") from None

    @property
    def service_names(self) -> list[str]:
        return sorted(self.services)

    def to_dict(self) -> dict[str, Any]:
        out = _Base.to_dict(self)
        out.setdefault("services", {})  # Compose always prints it, even empty
        for key in ("networks", "volumes", "secrets", "configs"):
            if out.get(key) == {}:
                del out[key]
        return out
