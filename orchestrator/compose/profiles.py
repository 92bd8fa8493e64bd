"""``profiles``: which services a command sees (spec 15-profiles.md, compose-go types/project.go).

A service without ``profiles`` is always enabled; one with profiles is enabled
when one of them is active (``*`` activates all). A service named on the
command line enables its own profiles, and the services it needs through
``depends_on`` are enabled with it ("enabled by dependency"). Disabled services
are removed; an enabled service that still ``depends_on`` a disabled or
unknown service is an error, unless that dependency says ``required: false``,
in which case the dependency is dropped.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

from .errors import ComposeError, Pos

__all__ = ["apply_profiles", "all_profiles", "has_profile", "dependencies"]

Locate = Callable[[tuple], "Pos | None"]


def _profiles_of(service: Any) -> list[str]:
    value = service.get("profiles") if isinstance(service, dict) else None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(p) for p in value]
    raise ComposeError("profiles must be a list of strings")


def has_profile(service: Any, active: Iterable[str]) -> bool:
    """True when ``service`` has no profiles, or one of them is in ``active`` (or ``*`` is)."""
    profiles = _profiles_of(service)
    if not profiles:
        return True
    active = set(active)
    return "*" in active or any(p in active for p in profiles)


def all_profiles(model: dict) -> list[str]:
    """Every profile named by a service, sorted (``config --profiles``)."""
    services = model.get("services") if isinstance(model, dict) else None
    found: set[str] = set()
    for service in (services or {}).values():
        found.update(_profiles_of(service))
    return sorted(found)


def _required(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.get("required", True)
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return value is not False


def dependencies(service: Any) -> dict[str, bool]:
    """``depends_on`` (list or mapping form) as ``{service: required}``."""
    value = service.get("depends_on") if isinstance(service, dict) else None
    if isinstance(value, list):
        return {str(name): True for name in value}
    if isinstance(value, dict):
        return {str(name): _required(spec) for name, spec in value.items()}
    return {}


def _enable_needed(services: dict, enabled: set[str], targeted: list[str]) -> None:
    """Enable everything the targeted services need, transitively."""
    seen: set[str] = set()
    queue = list(targeted)
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in dependencies(services.get(name)):
            if dep in services:
                enabled.add(dep)
                queue.append(dep)


def _fmt(profiles: list[str]) -> str:
    return "[" + " ".join(profiles) + "]"


def _check_dependencies(name: str, service: dict, services: dict, enabled: set[str]) -> dict:
    """``service`` without its optional dependencies on absent services; errors for required ones."""
    missing = []
    for dep, required in dependencies(service).items():
        if dep in enabled:
            continue
        if not required:
            missing.append(dep)
        elif dep in services:
            raise ComposeError(
                f'service "{dep}" is required by "{name}" but is disabled. '
                f"Can be enabled by profiles {_fmt(_profiles_of(services[dep]))}"
            )
        else:
            raise ComposeError(f'service "{name}" depends on undefined service "{dep}"')
    if not missing:
        return service
    value = service["depends_on"]
    if isinstance(value, list):
        kept: Any = [d for d in value if str(d) not in missing]
    else:
        kept = {d: spec for d, spec in value.items() if str(d) not in missing}
    return {**service, "depends_on": kept}


def apply_profiles(
    model: dict, active: Iterable[str], targeted: Iterable[str] = (), pos: Locate | None = None
) -> dict:
    """A copy of ``model`` holding only the services enabled by ``active`` profiles and ``targeted``.

    ``pos`` (e.g. ``Locator.find``) places dependency errors at their ``depends_on``.
    """
    if not isinstance(model, dict):
        raise ComposeError("top-level object must be a mapping")
    services = model.get("services") or {}
    if not isinstance(services, dict):
        raise ComposeError("services must be a mapping")
    active_set = set(active)
    targets = list(dict.fromkeys(targeted))
    for name in targets:
        if name not in services:
            raise ComposeError(f"no such service: {name}")
        if not has_profile(services[name], active_set):
            active_set.update(_profiles_of(services[name]))
    enabled = {name for name, svc in services.items() if has_profile(svc, active_set)}
    _enable_needed(services, enabled, targets)
    out = copy.deepcopy(model)
    if "services" in out:
        kept = {}
        for name, svc in out["services"].items():
            if name not in enabled:
                continue
            try:
                kept[name] = _check_dependencies(name, svc, services, enabled)
            except ComposeError as exc:
                raise exc.at(pos(("services", name, "depends_on")) if pos else None) from None
        out["services"] = kept
    return out
