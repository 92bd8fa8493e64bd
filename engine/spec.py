"""ContainerSpec: the only contract between a caller and shoal's engine.

Think of it as shoal's own OCI runtime spec: plain, typed, frozen values with no
compose concepts. The orchestrator builds one per replica; anyone can build one
by hand to run a single container with ``engine`` as a library.
Byte sizes are ints in bytes, durations floats in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "MountSpec",
    "Ulimit",
    "DeviceSpec",
    "ResourceSpec",
    "SecuritySpec",
    "NamespaceSpec",
    "LogSpec",
    "HealthcheckSpec",
    "NetworkAttachment",
    "ContainerSpec",
]


@dataclass(frozen=True, slots=True)
class MountSpec:
    """One mount inside the container."""

    type: Literal["bind", "volume", "tmpfs"]  # volume = a directory the engine's volume store owns
    target: str  # absolute path inside the container, resolved within the rootfs
    source: str = ""  # host path (bind) or volume name (volume); empty for tmpfs
    read_only: bool = False
    propagation: str = ""  # private|rprivate|shared|rshared|slave|rslave ("" = rprivate)
    create_host_path: bool = False  # bind: create a missing source directory instead of failing
    tmpfs_size: int = 0  # bytes; 0 = kernel default
    tmpfs_mode: int = 0o1777
    options: tuple[str, ...] = ()  # extra mount options (nosuid, nodev, noexec, ...)
    subpath: str = ""  # volume: mount only this subdirectory


@dataclass(frozen=True, slots=True)
class Ulimit:
    """An rlimit: ``name`` as in compose (nofile, nproc, core, ...)."""

    name: str
    soft: int
    hard: int


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A host device node made available inside the container."""

    host_path: str
    container_path: str = ""  # default: same as host_path
    permissions: str = "rwm"


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """cgroup limits; 0 (or empty) means no limit."""

    memory: int = 0  # bytes (memory.limit_in_bytes / memory.max)
    memory_swap: int = 0  # bytes of memory+swap; -1 = unlimited swap; 0 = same as 2x memory like Docker
    memory_reservation: int = 0  # bytes (soft limit / memory.low)
    cpus: float = 0.0  # CPUs of quota (cpu.cfs_quota_us / cpu.max)
    cpu_shares: int = 0  # v1 shares (v2 weight derived)
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0  # -1 or 0 = unlimited
    oom_score_adj: int = 0
    oom_kill_disable: bool = False
    shm_size: int = 64 * 1024 * 1024  # bytes of /dev/shm
    ulimits: tuple[Ulimit, ...] = ()
    blkio_weight: int = 0


@dataclass(frozen=True, slots=True)
class SecuritySpec:
    """What the process may do. Defaults are Docker's defaults."""

    privileged: bool = False
    cap_add: tuple[str, ...] = ()  # names like "NET_ADMIN" or "CAP_NET_ADMIN", or "ALL"
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    seccomp: str = "default"  # "default", "unconfined", or a path to a Docker-format JSON profile
    masked_paths: tuple[str, ...] | None = None  # None = Docker's default list
    readonly_paths: tuple[str, ...] | None = None  # None = Docker's default list
    devices: tuple[DeviceSpec, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    read_only_rootfs: bool = False


@dataclass(frozen=True, slots=True)
class NamespaceSpec:
    """Which namespaces to create and which to join.

    Each of ``network``, ``pid``, ``ipc``, ``uts`` is ``"private"`` (a fresh one),
    ``"host"`` (stay in the host's), ``"container:<id>"`` (join that container's),
    or for network a path to a namespace file (``/run/netns/x``) made by the caller;
    ``"none"`` for network means a fresh one with only loopback.
    """

    network: str = "private"
    pid: str = "private"
    ipc: str = "private"  # also "shareable"
    uts: str = "private"
    cgroup: str = "private"
    user: str = "host"  # user namespaces: later (userns_mode / rootless)


@dataclass(frozen=True, slots=True)
class LogSpec:
    """How the monitor stores stdout/stderr (JSON lines, like Docker's json-file)."""

    driver: str = "json-file"  # json-file | none
    max_size: int = 10 * 1024 * 1024  # bytes per file before rotation; 0 = never rotate
    max_file: int = 3


@dataclass(frozen=True, slots=True)
class HealthcheckSpec:
    """A probe run inside the container by its monitor (Docker semantics)."""

    test: tuple[str, ...]  # ("CMD", argv...) or ("CMD-SHELL", "cmd")
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class NetworkAttachment:
    """One interface the network layer plugs into the container's namespace."""

    network: str  # engine-level network name
    interface: str = "eth0"
    ipv4_address: str = ""
    ipv6_address: str = ""
    mac_address: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything the engine needs to create one container."""

    name: str  # unique on the host; also the default hostname's source
    rootfs: str  # an image reference in the store, or an absolute directory path
    command: tuple[str, ...] = ()  # argv after the entrypoint (image Cmd already applied by caller or engine)
    entrypoint: tuple[str, ...] | None = None  # None = image's Entrypoint
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""  # "" = image's WorkingDir or "/"
    user: str = ""  # "uid[:gid]" or "name[:group]" resolved in the rootfs's passwd/group
    group_add: tuple[str, ...] = ()
    hostname: str = ""  # "" = first 12 chars of the container id
    domainname: str = ""
    mounts: tuple[MountSpec, ...] = ()
    namespaces: NamespaceSpec = field(default_factory=NamespaceSpec)
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    security: SecuritySpec = field(default_factory=SecuritySpec)
    init: bool = True  # a reaping, signal-forwarding PID 1 in front of the app
    tty: bool = False
    stdin_open: bool = False
    stop_signal: str = "SIGTERM"
    stop_grace_period: float = 10.0
    log: LogSpec = field(default_factory=LogSpec)
    labels: tuple[tuple[str, str], ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (hostname, ip) lines added to /etc/hosts
    dns: tuple[str, ...] = ()  # nameservers for resolv.conf; empty = host's (minus loopback)
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    networks: tuple[NetworkAttachment, ...] = ()
    healthcheck: HealthcheckSpec | None = None
