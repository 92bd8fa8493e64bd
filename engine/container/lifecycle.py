"""Engine-side steps of a container's life that touch the disk: create its files, write its plan, clean up."""

from __future__ import annotations

import os
import re
import time

from engine.container import files, validate
from engine.container.codec import spec_to_dict
from engine.container.plan import build_plan, namespace_modes, signal_number, stop_signal_of, user_of
from engine.container.security import capability_mask, seccomp_file
from engine.errors import EngineError, ImageNotFound, InvalidSpec, NameInUse
from engine.runtime.cgroupfs import host_hierarchies
from engine.runtime.devices import describe_host_device
from engine.spec import ContainerSpec
from engine.state import ContainerPaths, now_rfc3339, parse_rfc3339, write_json_atomic

_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

__all__ = ["CREATING", "create", "discard_partial", "write_plan", "release_cgroup", "cgroup_stats",
           "since_seconds", "signal_number", "resolve_rootfs"]


def resolve_rootfs(root: str, ref: str) -> tuple[list[str], dict, list | None]:
    """(lower dirs top first, image runtime config, [layers root, short keys] or None) for a rootfs."""
    if ref.startswith("/"):
        validate.check_rootfs_dir(ref)
        return [ref], {}, None
    try:
        from engine.images.store import ImageStore
    except ImportError:
        raise ImageNotFound(f"image {ref!r}: the image store is not available") from None
    try:
        image = ImageStore(os.path.join(root, "images")).lookup(ref)
    except Exception as exc:  # the store's own errors become the engine's
        raise ImageNotFound(str(exc)) from None
    keys, keys_root = getattr(image, "layer_keys", None), getattr(image, "layers_root", "")
    short = [keys_root, list(keys)] if keys and keys_root and len(keys) == len(image.layer_dirs) else None
    return list(image.layer_dirs), dict(image.config.get("config") or {}), short


def _validate(root: str, spec: ContainerSpec, names: set) -> tuple[list[str], dict, list | None, list[dict]]:
    if not _NAME.fullmatch(spec.name or ""):
        raise InvalidSpec(f"Invalid container name ({spec.name!r}), "
                          "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if spec.working_dir and not spec.working_dir.startswith("/"):
        raise InvalidSpec(f"the working directory {spec.working_dir!r} is invalid, "
                          "it needs to be an absolute path")
    if spec.name in names:
        raise NameInUse(f'Conflict. The container name "{spec.name}" is already in use')
    lower, image, short = resolve_rootfs(root, spec.rootfs)
    validate.check_resources(spec)
    validate.check_mounts(spec)
    validate.check_sysctls(spec)
    devices = [describe_host_device(d.host_path, d.container_path, d.permissions)
               for d in spec.security.devices]
    validate.check_user(spec, lower, user_of(spec, image))
    return lower, image, short, devices


CREATING = ".creating"  # containers/.creating/<id>: creates in progress, renamed into place when complete
STALE_AFTER = 600.0  # seconds after which an unfinished create (its process was killed) is discarded


def _write_files(spec: ContainerSpec, cid: str, tmp: ContainerPaths, cfg: dict) -> None:
    """Everything a created container has, written into the not-yet-visible directory."""
    for sub in ("upper", "work", "merged"):
        os.mkdir(os.path.join(tmp.state_dir, sub), 0o755)
    hostname = spec.hostname or cid[:12]
    with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as f:
        host_resolv = f.read()
    for name, text in (("hosts", files.hosts_file(spec)), ("hostname", files.hostname_file(hostname)),
                       ("resolv.conf", files.resolv_conf(spec, host_resolv))):
        with open(os.path.join(tmp.state_dir, name), "w", encoding="utf-8") as f:
            f.write(text)
    write_json_atomic(tmp.config, cfg)
    write_json_atomic(tmp.state, {"state": "created", "pid": 0, "exit_code": 0})


def _make_tmp_dir(containers_dir: str, cid: str) -> str:
    """containers/.creating/<cid> (mode 0700); retried if another create just removed .creating."""
    tmp = os.path.join(containers_dir, CREATING, cid)
    for _ in range(5):
        os.makedirs(os.path.join(containers_dir, CREATING), mode=0o700, exist_ok=True)
        try:
            os.mkdir(tmp, 0o700)
            return tmp
        except FileNotFoundError:
            continue
    raise EngineError(f"cannot create {tmp}")


def discard_partial(containers_dir: str, older_than: float = STALE_AFTER) -> list[str]:
    """Remove unfinished creates (a process killed mid-create) older than ``older_than`` seconds."""
    import shutil

    base = os.path.join(containers_dir, CREATING)
    try:
        entries = os.listdir(base)
    except FileNotFoundError:
        return []
    gone = []
    for name in entries:
        path = os.path.join(base, name)
        try:
            age = time.time() - os.lstat(path).st_mtime
        except FileNotFoundError:
            continue
        if age >= older_than:
            shutil.rmtree(path, ignore_errors=True)
            gone.append(name)
    _remove_if_empty(base)
    return gone


def _remove_if_empty(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass  # another create is using it, or it is already gone


def create(root: str, spec: ContainerSpec, cid: str, paths: ContainerPaths, names: set) -> None:
    """Validate, then write config, state and /etc files; on any error (or a kill) nothing is left.

    The directory is built under ``containers/.creating`` and renamed into place complete, so
    a container directory always has its config.json and state.json.
    """
    lower, image, short, devices = _validate(root, spec, names)
    for m in spec.mounts:
        if m.type == "bind" and m.create_host_path:
            os.makedirs(m.source, exist_ok=True)
    containers_dir = os.path.dirname(paths.state_dir)
    discard_partial(containers_dir)
    if os.path.lexists(paths.state_dir):
        raise EngineError(f"container directory {paths.state_dir} already exists")
    tmp = ContainerPaths(_make_tmp_dir(containers_dir, cid), paths.run_dir)
    try:
        _write_files(spec, cid, tmp, {
            "id": cid, "name": spec.name, "created_at": now_rfc3339(), "spec": spec_to_dict(spec),
            "lower": lower, "lower_keys": short, "image": image, "devices": devices,
            "stop_signal": stop_signal_of(spec, image)})
        os.rename(tmp.state_dir, paths.state_dir)
    except BaseException:
        import shutil

        shutil.rmtree(tmp.state_dir, ignore_errors=True)
        raise
    finally:
        _remove_if_empty(os.path.dirname(tmp.state_dir))


def _volume_path(root: str):
    def path(name: str) -> str:
        from engine.volumes import VolumeStore

        store = VolumeStore(root)
        store.create(name)  # named volumes are created on first use, like Docker
        return store.path(name)
    return path


def write_plan(root: str, cid: str, paths: ContainerPaths, cfg: dict, peer_pid) -> None:
    """Resolve everything a start needs (namespaces of peers, caps, seccomp) into plan.json."""
    from engine.container.codec import spec_from_dict

    spec = spec_from_dict(cfg["spec"])
    caps = capability_mask(spec.security)
    bpf = seccomp_file(spec.security, caps, os.path.join(root, "cache", "seccomp"), paths.state_dir)
    plan = build_plan(spec, cid, paths.state_dir, cfg["lower"], cfg.get("image", {}),
                      namespace_modes(spec, peer_pid), volume_path=_volume_path(root),
                      devices=cfg.get("devices", []), caps=caps, seccomp_bpf=bpf)
    plan["privileged"] = spec.security.privileged
    plan["lower_keys"] = cfg.get("lower_keys")
    if plan["namespaces"].get("cgroup") == "private":
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            plan["cgroupfs"] = host_hierarchies(f.read())
    write_json_atomic(paths.plan, plan)


def _driver():
    try:
        from engine import cgroups
    except ImportError:
        return None
    return cgroups.open_driver()


def release_cgroup(cid: str) -> None:
    """Remove a leftover cgroup of the container (the monitor normally does it)."""
    drv = _driver()
    if drv is None:
        return
    try:
        cg = drv.open(cid)
    except Exception:  # noqa: BLE001 - none left is the normal case
        return
    for _ in range(50):
        try:
            cg.kill_all()
            cg.remove()
            return
        except Exception:  # noqa: BLE001 - CgroupError/OSError while it empties
            time.sleep(0.02)


def cgroup_stats(cid: str):
    """Usage counters of the container's cgroup."""
    drv = _driver()
    if drv is None:
        raise EngineError("stats need cgroups (engine.cgroups is not available)")
    return drv.open(cid).stats()


def since_seconds(since: float | str | None) -> float | None:
    """``since`` as epoch seconds: a number, or an RFC3339 timestamp."""
    if since is None or isinstance(since, (int, float)):
        return since
    return parse_rfc3339(since)
