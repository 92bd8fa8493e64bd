"""A busybox root filesystem from Debian's ``busybox-static``: the base image that needs no registry.

Used by ``shoal image bootstrap busybox`` (so the examples run offline) and by the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["BUSYBOX", "busybox_available", "make_busybox_rootfs"]

BUSYBOX = "/bin/busybox"

_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
)
_GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\napp:x:1000:\n"


def busybox_available(path: str = BUSYBOX) -> bool:
    """True when a static busybox is installed (apt-get install busybox-static)."""
    if not os.path.isfile(path):
        return False
    if not shutil.which("file"):
        return True
    out = subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout
    return "dynamic" not in out


def make_busybox_rootfs(dest: str, busybox: str = BUSYBOX) -> str:
    """Populate ``dest`` with a minimal busybox root filesystem and return it."""
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home/app",
              "usr/bin", "usr/sbin", "var/log", "run"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(dest, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = os.path.join(dest, applet)
        if applet == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write(_PASSWD)
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write(_GROUP)
    if os.geteuid() == 0:
        os.chown(os.path.join(dest, "home/app"), 1000, 1000)
    return dest
