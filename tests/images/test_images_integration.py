"""Against the real docker-registry (Debian package) with images pushed by skopeo; compared with umoci."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
import warnings

import pytest

from engine.images.errors import PullError
from engine.images.layers import flatten
from engine.images.pull import pull
from engine.images.testing import build_image, write_layout
from treecompare import tree

TOOLS = ("docker-registry", "skopeo", "umoci")
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                                reason="needs docker-registry, skopeo, umoci (apt-get install)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bcrypt_line(user: str, password: str) -> str:
    """An htpasswd bcrypt entry (cost 4): apache2-utils' htpasswd, else libcrypt via Python."""
    if shutil.which("htpasswd"):
        return subprocess.run(["htpasswd", "-Bbn", "-C", "4", user, password], capture_output=True,
                              text=True, check=True).stdout.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("needs htpasswd (apt-get install apache2-utils) or a bcrypt-capable libcrypt")
    return f"{user}:{hashed}"


@pytest.fixture(params=["anonymous", "htpasswd"])
def real_registry(request, tmp_path):
    """A docker-registry on a free 127.0.0.1 port with temp storage; yields (host, creds)."""
    port = free_port()
    creds = None
    auth = ""
    if request.param == "htpasswd":
        (tmp_path / "htpasswd").write_text(bcrypt_line("alice", "s3cret") + "\n")
        auth = f"auth:\n  htpasswd:\n    realm: shoal\n    path: {tmp_path / 'htpasswd'}\n"
        creds = ("alice", "s3cret")
    (tmp_path / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}")
    proc = subprocess.Popen(["docker-registry", "serve", str(tmp_path / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, auth required
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("docker-registry did not start")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}", creds
    finally:
        proc.terminate()
        proc.wait(10)


def test_pull_from_real_registry_matches_umoci(real_registry, tmp_path, store, bb_layer, app_layers):
    host, creds = real_registry
    image = build_image([bb_layer, *app_layers], config={"config": {"Cmd": ["sh"], "Env": ["A=1"]}})
    layout = write_layout(str(tmp_path / "layout"), {"bb": image})
    cmd = ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:bb", f"docker://{host}/bb:1"]
    if creds:
        cmd[3:3] = ["--dest-creds", ":".join(creds)]
    subprocess.run(cmd, check=True, capture_output=True)
    if creds:
        with pytest.raises(PullError, match=r"bb:1: .*authentication required"):
            pull(store, f"{host}/bb:1")
    got = pull(store, f"{host}/bb:1", creds=creds)
    assert got.id == image.id and got.config["config"]["Env"] == ["A=1"]
    ours = tree(flatten(got.layer_dirs, str(tmp_path / "ours")))
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:bb", str(tmp_path / "bundle")],
                   check=True, capture_output=True)
    theirs = tree(str(tmp_path / "bundle" / "rootfs"))
    assert ours == theirs
    assert "etc/app/c.conf" in ours and "etc/app/a.conf" not in ours and "linuxrc" not in ours
