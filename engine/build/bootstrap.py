"""``shoal image bootstrap debian:<suite>[-slim]``: a minimal Debian base image without Docker Hub.

debootstrap (installed with apt-get when missing) makes a ``minbase`` rootfs from a
Debian mirror; it is then cleaned the way the official slim images are (no docs,
man pages or locales, no apt lists or archives, Docker's ``apt.conf.d/docker-*``
and dpkg path excludes so later ``apt-get install`` stays slim) and imported as
one layer tagged ``debian:<suite>`` and ``debian:<suite>-slim``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from engine.build.commit import DEFAULT_PATH
from engine.images.archive import import_rootfs
from engine.images.store import ImageStore
from engine.runtime import syscalls as sc

__all__ = ["BootstrapError", "BootstrapResult", "parse_target", "clean_rootfs", "bootstrap", "bootstrap_busybox",
           "DEFAULT_MIRROR"]

DEFAULT_MIRROR = "http://deb.debian.org/debian"
_SUITE = re.compile(r"^(?:docker\.io/)?(?:library/)?debian:([a-z]+)(-slim)?$")

# What the official images put in /etc (see docker-library/debian's rootfs builds)
_APT_CONF = {
    "docker-clean": 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
                    '/var/cache/apt/*.bin || true"; };\nAPT::Update::Post-Invoke { "rm -f '
                    '/var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || '
                    'true"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-no-recommends": 'APT::Install-Recommends "false";\n',
}
_DPKG_SLIM = ("path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
              "path-exclude /usr/share/man/*\npath-exclude /usr/share/groff/*\npath-exclude /usr/share/info/*\n"
              "path-exclude /usr/share/lintian/*\npath-exclude /usr/share/linda/*\n"
              "path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n")
_REMOVE = ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
           "var/cache/apt/archives/partial/*", "usr/share/man/*", "usr/share/groff/*", "usr/share/info/*",
           "usr/share/lintian/*", "usr/share/linda/*", "var/cache/man/*", "var/log/*.log", "var/log/apt/*",
           "var/cache/debconf/*-old", "var/lib/dpkg/*-old", "debootstrap")


class BootstrapError(Exception):
    """debootstrap is unavailable or failed, or the image name is not debian:<suite>."""


@dataclass(frozen=True)
class BootstrapResult:
    """The imported image, its names, unpacked size in bytes and how long it took."""

    image_id: str
    names: list[str]
    size: int
    seconds: float


_BUSYBOX = re.compile(r"^(?:docker\.io/)?(?:library/)?busybox(?::([A-Za-z0-9_][A-Za-z0-9_.-]*))?$")


def parse_target(ref: str) -> str:
    """``debian:bookworm`` / ``debian:bookworm-slim`` -> ``bookworm``; ``busybox[:tag]`` -> ``busybox``."""
    if _BUSYBOX.match(ref):
        return "busybox"
    m = _SUITE.match(ref)
    if not m:
        raise BootstrapError(
            f"{ref}: only debian:<suite>, debian:<suite>-slim or busybox[:tag] can be bootstrapped")
    return m.group(1)


def _ensure_package(binary: str, package: str, progress: Callable[[str], None]) -> str:
    """The path of ``binary``, installing Debian's ``package`` when it is missing."""
    path = shutil.which(binary) or (binary if os.path.isabs(binary) and os.path.exists(binary) else None)
    if path:
        return path
    progress(f"{binary} is not installed: apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise BootstrapError(f"{' '.join(argv)} failed: {proc.stderr.strip()[-400:]}")
    path = shutil.which(binary) or (binary if os.path.exists(binary) else None)
    if not path:
        raise BootstrapError(f"{binary} is still missing after apt-get install {package}")
    return path


def bootstrap_busybox(store: ImageStore, ref: str = "busybox:latest", *,
                      progress: Callable[[str], None] | None = None) -> BootstrapResult:
    """Import a busybox rootfs made from Debian's busybox-static as ``busybox:<tag>`` (and ``:latest``)."""
    from engine.build.busybox import BUSYBOX, busybox_available, make_busybox_rootfs

    say = progress or (lambda line: None)
    started = time.monotonic()
    _ensure_package(BUSYBOX, "busybox-static", say)
    if not busybox_available():
        raise BootstrapError(f"{BUSYBOX} is not a static binary: apt-get install busybox-static")
    tag = _BUSYBOX.match(ref).group(1) or "latest"
    try:  # already there: bootstrapping is idempotent, so scripts can call it every time
        existing = store.lookup(f"busybox:{tag}")
        return BootstrapResult(existing.id, [f"busybox:{tag}"], 0, time.monotonic() - started)
    except Exception:
        pass
    work = tempfile.mkdtemp(prefix="bootstrap-", dir=store.tmp)
    try:
        rootfs = make_busybox_rootfs(os.path.join(work, "rootfs"))
        size = _tree_size(rootfs)
        names = [f"busybox:{tag}"] + (["busybox:latest"] if tag != "latest" else [])
        say(f"importing busybox ({size / 1e6:.1f} MB) as {', '.join(names)}")
        image = import_rootfs(store, rootfs, names[0], changes={"Env": [f"PATH={DEFAULT_PATH}"], "Cmd": ["sh"]})
        for name in names[1:]:
            store.tag(image.id, name)
        return BootstrapResult(image.id, names, size, time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ensure_debootstrap(progress: Callable[[str], None]) -> str:
    return _ensure_package("debootstrap", "debootstrap", progress)


def _write(root: str, rel: str, text: str, mode: int = 0o644) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def _prune_docs(root: str) -> None:
    """Drop /usr/share/doc except copyright files, and locales except locale.alias."""
    for base, keep in (("usr/share/doc", "copyright"), ("usr/share/locale", "locale.alias")):
        top = os.path.join(root, base)
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, filenames in os.walk(top, topdown=False):
            for name in filenames:
                if name != keep:
                    os.unlink(os.path.join(dirpath, name))
            for name in dirnames:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    os.unlink(path)
                elif not os.listdir(path):
                    os.rmdir(path)


def clean_rootfs(root: str) -> None:
    """Make a debootstrapped tree look like an official slim image (docs, caches, host files gone)."""
    for pattern in _REMOVE:
        for path in glob.glob(os.path.join(root, pattern)):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    _prune_docs(root)
    for name, text in _APT_CONF.items():
        _write(root, f"etc/apt/apt.conf.d/{name}", text)
    _write(root, "etc/dpkg/dpkg.cfg.d/docker-apt-speedup", "force-unsafe-io\n")
    _write(root, "etc/dpkg/dpkg.cfg.d/docker", _DPKG_SLIM)
    _write(root, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)  # no service starts in builds
    for rel in ("etc/resolv.conf", "etc/hostname", "etc/machine-id"):
        _write(root, rel, "")  # host files debootstrap copied; the engine provides the real ones
    os.makedirs(os.path.join(root, "var/lib/apt/lists/partial"), exist_ok=True)


def _unmount_under(root: str) -> None:
    """Detach anything debootstrap left mounted in the target (after a failure)."""
    with open("/proc/self/mounts", encoding="utf-8") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(root + "/")]
    for point in sorted(points, key=len, reverse=True):
        try:
            sc.umount(point, sc.MNT_DETACH)
        except OSError:
            pass


def _tree_size(root: str) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def bootstrap(store: ImageStore, ref: str, *, mirror: str | None = None,
              progress: Callable[[str], None] | None = None, cache_dir: str | None = None) -> BootstrapResult:
    """debootstrap ``ref``'s suite, clean it, import it as ``debian:<suite>`` and ``debian:<suite>-slim``."""
    say = progress or (lambda line: None)
    suite = parse_target(ref)
    if suite == "busybox":
        return bootstrap_busybox(store, ref, progress=progress)
    mirror = mirror or os.environ.get("SHOAL_DEBIAN_MIRROR") or DEFAULT_MIRROR
    started = time.monotonic()
    tool = _ensure_debootstrap(say)
    work = tempfile.mkdtemp(prefix="bootstrap-", dir=store.tmp)
    rootfs = os.path.join(work, "rootfs")
    argv = [tool, "--variant=minbase", suite, rootfs, mirror]
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        argv.insert(1, f"--cache-dir={os.path.abspath(cache_dir)}")
    try:
        say(f"debootstrap {suite} from {mirror}")
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise BootstrapError(f"debootstrap {suite} failed (exit {proc.returncode}): {' | '.join(tail)}")
        say("cleaning the rootfs like the official slim images")
        clean_rootfs(rootfs)
        size = _tree_size(rootfs)
        say(f"importing {size / 1e6:.0f} MB as one layer")
        names = [f"debian:{suite}", f"debian:{suite}-slim"]
        image = import_rootfs(store, rootfs, names[0], changes={"Env": [f"PATH={DEFAULT_PATH}"], "Cmd": ["bash"]})
        store.tag(image.id, names[1])
        return BootstrapResult(image.id, names, size, time.monotonic() - started)
    finally:
        _unmount_under(rootfs)
        shutil.rmtree(work, ignore_errors=True)
