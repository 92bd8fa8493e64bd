"""securityContext from user, group_add, cap_add/cap_drop, read_only, privileged, security_opt, sysctls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import Context

__all__ = ["container_security", "pod_security", "SAFE_SYSCTLS"]

# Sysctls every kubelet allows (Kubernetes 1.29+ "safe" set).
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
})


def _caps(names: Any) -> list[str]:
    """Capability names as Kubernetes writes them (no CAP_ prefix), de-duplicated in order."""
    out: list[str] = []
    for name in names or []:
        cap = str(name).upper().removeprefix("CAP_")
        if cap not in out:
            out.append(cap)
    return out


def _user(svc: Mapping[str, Any], service: str, ctx: Context, sc: dict[str, Any]) -> None:
    """`user: uid[:gid]` to runAsUser/runAsGroup; names cannot be resolved without the image."""
    user = svc.get("user")
    if user in (None, ""):
        return
    uid, _, gid = str(user).partition(":")
    if uid.isdigit():
        sc["runAsUser"] = int(uid)
        if int(uid) != 0:
            sc["runAsNonRoot"] = True
    else:
        ctx.warn(service, "user", f"user name {uid!r} needs a numeric uid in Kubernetes "
                 "(runAsUser); the image's default user is used")
    if gid.isdigit():
        sc["runAsGroup"] = int(gid)
    elif gid:
        ctx.warn(service, "user", f"group name {gid!r} needs a numeric gid (runAsGroup); ignored")


def _security_opt(svc: Mapping[str, Any], service: str, ctx: Context, sc: dict[str, Any]) -> None:
    """no-new-privileges, seccomp/apparmor unconfined and SELinux labels."""
    selinux: dict[str, str] = {}
    for opt in svc.get("security_opt") or []:
        key, _, value = str(opt).replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and value in ("", "true"):
            sc["allowPrivilegeEscalation"] = False
        elif key == "seccomp" and value == "unconfined":
            sc["seccompProfile"] = {"type": "Unconfined"}
        elif key == "apparmor" and value == "unconfined":
            sc["appArmorProfile"] = {"type": "Unconfined"}
        elif key == "label" and value.partition(":")[0] in ("user", "role", "type", "level"):
            field, _, setting = value.partition(":")
            selinux[field] = setting
        else:
            ctx.warn(service, "security_opt", f"{opt!r} has no securityContext equivalent; ignored")
    if selinux:
        sc["seLinuxOptions"] = selinux


def container_security(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """The container securityContext."""
    sc: dict[str, Any] = {}
    _user(svc, service, ctx, sc)
    caps: dict[str, list[str]] = {}
    if svc.get("cap_add"):
        caps["add"] = _caps(svc["cap_add"])
    if svc.get("cap_drop"):
        caps["drop"] = _caps(svc["cap_drop"])
    if caps:
        sc["capabilities"] = caps
    if svc.get("read_only"):
        sc["readOnlyRootFilesystem"] = True
    if svc.get("privileged"):
        sc["privileged"] = True
    _security_opt(svc, service, ctx, sc)
    if sc.get("privileged") and sc.get("allowPrivilegeEscalation") is False:
        ctx.warn(service, "security_opt", "no-new-privileges conflicts with privileged; dropped")
        del sc["allowPrivilegeEscalation"]
    return sc


def pod_security(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """The pod securityContext: sysctls and supplemental groups."""
    sc: dict[str, Any] = {}
    sysctls = svc.get("sysctls") or {}
    if sysctls:
        sc["sysctls"] = [{"name": k, "value": str(v)} for k, v in sysctls.items()]
        unsafe = sorted(k for k in sysctls if k not in SAFE_SYSCTLS)
        if unsafe:
            ctx.warn(service, "sysctls", f"{', '.join(unsafe)} not in Kubernetes' safe set: the "
                     "kubelet must allow them (--allowed-unsafe-sysctls) or the pod is rejected")
    groups = []
    for group in svc.get("group_add") or []:
        if str(group).isdigit():
            groups.append(int(group))
        else:
            ctx.warn(service, "group_add", f"group name {group!r} needs a numeric gid; ignored")
    if groups:
        sc["supplementalGroups"] = groups
    return sc
