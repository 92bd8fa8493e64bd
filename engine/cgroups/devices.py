"""Device access rules (pure): Docker's default allow list and rules from DeviceSpec."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Iterable, Sequence

from engine.spec import DeviceSpec

__all__ = ["WILDCARD", "DeviceRule", "DEFAULT_RULES", "rule_for", "device_rules"]

WILDCARD = -1  # "*" for a major or minor number


@dataclass(frozen=True, slots=True)
class DeviceRule:
    """Allow ``access`` (subset of "rwm") on devices of ``type`` ('c', 'b' or 'a' = any)."""

    type: str
    major: int = WILDCARD
    minor: int = WILDCARD
    access: str = "rwm"

    def __post_init__(self) -> None:
        if self.type not in ("a", "b", "c"):
            raise ValueError(f"device type must be a, b or c, not {self.type!r}")
        if not self.access or set(self.access) - set("rwm"):
            raise ValueError(f"device permissions must be a subset of 'rwm', not {self.access!r}")

    def v1_line(self) -> str:
        """The line written to v1 ``devices.allow`` ("c 1:3 rwm")."""
        if self.type == "a":
            return "a"
        major = "*" if self.major == WILDCARD else str(self.major)
        minor = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


# Docker's default: mknod of anything, plus the nodes every container gets in /dev.
DEFAULT_RULES: tuple[DeviceRule, ...] = (
    DeviceRule("c", access="m"),
    DeviceRule("b", access="m"),
    DeviceRule("c", 1, 3),  # null
    DeviceRule("c", 1, 5),  # zero
    DeviceRule("c", 1, 7),  # full
    DeviceRule("c", 1, 8),  # random
    DeviceRule("c", 1, 9),  # urandom
    DeviceRule("c", 5, 0),  # tty
    DeviceRule("c", 5, 1),  # console
    DeviceRule("c", 5, 2),  # ptmx
    DeviceRule("c", 136, WILDCARD),  # /dev/pts/*
)


def rule_for(dev: DeviceSpec) -> DeviceRule:
    """Rule allowing the host device named by ``dev`` (stat'ed for its type and numbers)."""
    try:
        st = os.stat(dev.host_path)
    except OSError as e:
        raise ValueError(f"device {dev.host_path}: {e.strerror}") from e
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise ValueError(f"{dev.host_path} is not a device node")
    return DeviceRule(kind, os.major(st.st_rdev), os.minor(st.st_rdev), dev.permissions or "rwm")


def device_rules(devices: Iterable[DeviceSpec], privileged: bool = False) -> Sequence[DeviceRule]:
    """Every rule a container gets: all devices when privileged, else defaults + its devices."""
    if privileged:
        return (DeviceRule("a"),)
    return DEFAULT_RULES + tuple(rule_for(d) for d in devices)
