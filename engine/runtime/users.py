"""Resolve a Docker-style user string against a rootfs's /etc/passwd and /etc/group (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UserNotFound

__all__ = ["Identity", "parse_passwd", "parse_group", "resolve_identity"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the container process runs as."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def parse_passwd(text: str) -> list[tuple[str, int, int, str]]:
    """(name, uid, gid, home) per valid line of a passwd file."""
    out = []
    for line in text.splitlines():
        f = line.split(":")
        if len(f) >= 7 and f[2].isdigit() and f[3].isdigit():
            out.append((f[0], int(f[2]), int(f[3]), f[5]))
    return out


def parse_group(text: str) -> list[tuple[str, int, tuple[str, ...]]]:
    """(name, gid, members) per valid line of a group file."""
    out = []
    for line in text.splitlines():
        f = line.split(":")
        if len(f) >= 4 and f[2].isdigit():
            out.append((f[0], int(f[2]), tuple(m for m in f[3].split(",") if m)))
    return out


def _find_group(groups: list[tuple[str, int, tuple[str, ...]]], ref: str) -> int:
    for name, gid, _ in groups:
        if ref == name or ref == str(gid):
            return gid
    if ref.isdigit():
        return int(ref)
    raise UserNotFound(f"unable to find group {ref}: no matching entries in group file")


def resolve_identity(user: str, passwd: str, group: str, group_add: tuple[str, ...] = ()) -> Identity:
    """Turn "name[:group]" or "uid[:gid]" into ids; unknown names raise UserNotFound like Docker."""
    uref, _, gref = (user or "0").partition(":")
    users, groups = parse_passwd(passwd), parse_group(group)
    match = next((u for u in users if uref == u[0] or uref == str(u[1])), None)
    if match is None and not uref.isdigit():
        raise UserNotFound(f"unable to find user {uref}: no matching entries in passwd file")
    name, uid, gid, home = match if match else ("", int(uref), 0, "/")
    if gref:
        gid = _find_group(groups, gref)
    extra = [g for gname, g, members in groups if name and name in members and g != gid]
    extra += [_find_group(groups, ref) for ref in group_add]
    return Identity(uid, gid, tuple(dict.fromkeys(extra)), home or "/")
