"""Platforms (os/arch/variant): the host's, parsing 'linux/arm64/v8', and choosing from an index."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import ImageError

__all__ = ["Platform", "host_platform", "parse_platform", "select_manifest"]

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386",
         "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform; an empty variant matches any variant."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    """The platform of this machine (linux/amd64, linux/arm64/v8, ...)."""
    machine = os.uname().machine
    arch = _ARCH.get(machine, machine)
    variant = "v8" if arch == "arm64" else "v7" if machine == "armv7l" else ""
    return Platform("linux", arch, variant)


def parse_platform(text: str | Platform | None) -> Platform:
    """Parse 'os/arch[/variant]' (or 'arch'); None means the host platform."""
    if text is None or text == "":
        return host_platform()
    if isinstance(text, Platform):
        return text
    parts = text.strip().lower().split("/")
    if len(parts) == 1:
        parts = ["linux", parts[0]]
    if len(parts) > 3 or not all(parts):
        raise ImageError(f"invalid platform {text!r} (expected os/arch[/variant])")
    arch = _ARCH.get(parts[1], parts[1])
    return Platform(parts[0], arch, parts[2] if len(parts) == 3 else "")


def _matches(entry: dict[str, Any], want: Platform) -> bool:
    plat = entry.get("platform") or {}
    if plat.get("os") != want.os or plat.get("architecture") != want.architecture:
        return False
    return not want.variant or not plat.get("variant") or plat.get("variant") == want.variant


def select_manifest(index: dict[str, Any], want: Platform) -> dict[str, Any]:
    """Pick the descriptor for ``want`` from an index, skipping attestations; raises if absent."""
    entries = [m for m in index.get("manifests") or []
               if isinstance(m, dict) and "vnd.docker.reference.type" not in (m.get("annotations") or {})]
    matching = [m for m in entries if _matches(m, want)]
    if want.variant:
        exact = [m for m in matching if (m.get("platform") or {}).get("variant") == want.variant]
        matching = exact or matching
    if matching:
        return matching[0]
    found = sorted({str(Platform(**{k: (m.get("platform") or {}).get(k, "") for k in
                                     ("os", "architecture", "variant")})) for m in entries})
    raise ImageError(f"no matching manifest for {want} in the manifest list "
                     f"(available: {', '.join(found) or 'none'})")
