"""Pulls from the in-process fake registry: auth, redirects, platforms, faults, resumption."""

from __future__ import annotations

import json
import os
import stat

import pytest

from conftest import file_entry
from engine.images import auth
from engine.images.errors import PullError
from engine.images.layers import is_whiteout, zstd_available
from engine.images.pull import pull
from engine.images.registry import HTTPTransport
from engine.images.store import ImageStore
from engine.images.testing import build_image, build_index, tar_bytes
from fakeregistry import FakeRegistry


def small_image(text: str = "one", **kw):
    return build_image([tar_bytes([file_entry("etc/msg", text.encode())]),
                        tar_bytes([file_entry("etc/more", b"more")])], **kw)


def index_snapshot(store) -> bytes:
    with open(store.index_path, "rb") as f:
        return f.read()


def test_anonymous_pull_registers_image_and_unpacks_layers(store, registry, bb_layer, app_layers):
    image = build_image([bb_layer, *app_layers], config={"config": {"Cmd": ["httpd"], "WorkingDir": "/w"}})
    registry.push("bb", "1", image)
    events = []
    got = pull(store, f"{registry.host}/bb:1", progress=lambda *a: events.append(a))
    assert got.names == [f"{registry.host}/bb:1"]
    assert got.id == image.id and got.digest == image.digest
    assert got.config["config"]["Cmd"] == ["httpd"]
    top, mid, base = got.layer_dirs
    assert os.path.isfile(os.path.join(base, "bin", "busybox"))
    assert open(os.path.join(top, "etc/app/c.conf")).read() == "c=1\n"
    assert is_whiteout(os.lstat(os.path.join(mid, "linuxrc")))
    assert all(os.path.realpath(os.path.join(got.layers_root, k)) == d
               for k, d in zip(got.layer_keys, got.layer_dirs))
    assert {e[0] for e in events} >= {"Downloading", "Extracting", "Pull complete"}
    assert store.lookup(f"{registry.host}/bb:1").id == image.id
    assert store.lookup(image.id[7:19]).digest == image.digest


def test_second_pull_only_heads_the_manifest(store, registry):
    registry.push("app", "latest", small_image())
    pull(store, f"{registry.host}/app")
    before = len(registry.log)
    pull(store, f"{registry.host}/app:latest")
    later = registry.log[before:]
    assert [r["method"] for r in later] == ["HEAD"]


def test_changed_tag_is_pulled_again_sharing_unchanged_layers(store, registry):
    registry.push("app", "latest", small_image("one"))
    first = pull(store, f"{registry.host}/app")
    registry.push("app", "latest", small_image("two"))
    second = pull(store, f"{registry.host}/app")
    assert second.id != first.id
    assert second.layer_dirs[0] != first.layer_dirs[0]
    blob_gets = registry.requests("GET", "/blobs/")
    assert len(blob_gets) == 3 + 2  # second pull: new config and new base; the top blob is the same
    assert [i.names for i in store.list() if i.id == first.id] == [[]]  # old image is now unnamed


def test_pull_by_digest_and_lookup_by_digest(store, registry):
    image = small_image()
    registry.push("app", "v1", image)
    got = pull(store, f"{registry.host}/app@{image.digest}")
    assert got.names == []
    assert store.lookup(f"{registry.host}/app@{image.digest}").id == image.id


def test_basic_auth_needs_credentials(store, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nodocker"))
    with FakeRegistry(auth="basic") as reg:
        reg.push("private/app", "1", small_image())
        before = index_snapshot(store)
        with pytest.raises(PullError, match=r"pull .*private/app:1: .*authentication required"):
            pull(store, f"{reg.host}/private/app:1")
        assert index_snapshot(store) == before and store.list() == []
        with pytest.raises(PullError, match="authentication required"):
            pull(store, f"{reg.host}/private/app:1", creds=("alice", "wrong"))
        auth.login(store.root, reg.host, "alice", "s3cret")
        assert stat.S_IMODE(os.stat(os.path.join(store.root, "auth.json")).st_mode) == 0o600
        assert pull(store, f"{reg.host}/private/app:1").names
        assert all(r["auth"].startswith("Basic ") for r in reg.requests(part="/blobs/"))


def test_docker_config_credentials_are_used(store, tmp_path, monkeypatch):
    import base64
    cfg = tmp_path / "docker"
    cfg.mkdir()
    with FakeRegistry(auth="basic") as reg:
        token = base64.b64encode(b"alice:s3cret").decode()
        (cfg / "config.json").write_text(json.dumps({"auths": {f"http://{reg.host}": {"auth": token}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
        reg.push("app", "1", small_image())
        assert pull(store, f"{reg.host}/app:1").names


def test_bearer_token_and_redirect_drop_authorization(store, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nodocker"))
    with FakeRegistry(auth="bearer", redirect_blobs=True) as reg:
        reg.push("library/bb", "1", small_image())
        got = pull(store, f"{reg.host}/library/bb:1")
        assert got.names
        assert reg.requests(part="/token")
        cdn = reg.requests(host="blobhost")
        assert len(cdn) == 3 and all(r["auth"] == "" for r in cdn)
        assert all(r["auth"] == "Bearer good-token" for r in reg.requests(part="/blobs/", host="registry")
                   if r["auth"])


def test_bearer_token_refused_for_bad_password(store, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nodocker"))
    with FakeRegistry(auth="bearer", anonymous=False) as reg:
        reg.push("bb", "1", small_image())
        with pytest.raises(PullError, match=r"bb:1: token service .* refused: HTTP 401"):
            pull(store, f"{reg.host}/bb:1", creds=("alice", "nope"))
        assert pull(store, f"{reg.host}/bb:1", creds=("alice", "s3cret")).names


@pytest.mark.parametrize("docker", [False, True])
def test_index_selects_platform(store, registry, docker):
    amd = small_image("amd64", docker=docker)
    arm = small_image("arm64", docker=docker, arch="arm64")
    media = "application/vnd.docker.distribution.manifest.list.v2+json" if docker else \
        "application/vnd.oci.image.index.v1+json"
    registry.push_index("multi", "1", build_index([amd, arm], docker=docker), [amd, arm], media)
    got = pull(store, f"{registry.host}/multi:1", platform="linux/arm64")
    assert open(os.path.join(got.layer_dirs[1], "etc/msg")).read() == "arm64"
    assert got.config["architecture"] == "arm64"
    if os.uname().machine == "x86_64":
        host = pull(store, f"{registry.host}/multi:1")
        assert open(os.path.join(host.layer_dirs[1], "etc/msg")).read() == "amd64"
    with pytest.raises(PullError, match=r"multi:1: no matching manifest for linux/s390x .*linux/amd64"):
        pull(store, f"{registry.host}/multi:1", platform="linux/s390x")


def test_manifest_without_media_type_and_docker_types(store, registry):
    registry.push("plain", "1", small_image(omit_media_type=True))
    registry.push("dock", "1", small_image(docker=True))
    assert pull(store, f"{registry.host}/plain:1").names
    assert pull(store, f"{registry.host}/dock:1").names


def test_tampered_blob_is_rejected_and_store_unchanged(store, registry):
    image = small_image()
    registry.push("app", "1", image)
    layer = json.loads(image.manifest)["layers"][1]["digest"]
    registry.tampered.add(layer)
    before = index_snapshot(store)
    with pytest.raises(PullError, match=r"pull .*app:1: blob sha256:.* digest mismatch"):
        pull(store, f"{registry.host}/app:1")
    assert index_snapshot(store) == before
    assert not os.path.exists(store.blob_path(layer))
    assert [n for n in os.listdir(store.tmp) if n.endswith(".partial")] == []


def test_wrong_diff_id_leaves_no_layer(store, registry):
    good = tar_bytes([file_entry("x", b"x")])
    image = build_image([good], config={"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}})
    registry.push("app", "1", image)
    with pytest.raises(PullError, match="diff_id mismatch"):
        pull(store, f"{registry.host}/app:1")
    assert sorted(os.listdir(store.layers)) == ["l"] and store.list() == []


def test_unknown_layer_media_type(store, registry):
    image = small_image()
    doc = json.loads(image.manifest)
    doc["layers"][0]["mediaType"] = "application/x-weird"
    from engine.images.testing import BuiltImage
    body = json.dumps(doc).encode()
    import hashlib
    registry.push("app", "1", BuiltImage(body, "sha256:" + hashlib.sha256(body).hexdigest(),
                                         image.config, image.media_type, image.blobs))
    with pytest.raises(PullError, match="app:1: unknown layer media type 'application/x-weird'"):
        pull(store, f"{registry.host}/app:1")


@pytest.mark.parametrize("status,reason", [(404, "not found"), (403, "access denied"),
                                           (429, "too many requests")])
def test_error_statuses_name_image_and_reason(store, registry, status, reason):
    registry.push("app", "1", small_image())
    registry.fail("GET", "/manifests/", status, times=10)
    with pytest.raises(PullError, match=f"pull {registry.host}/app:1: .*{reason}"):
        pull(store, f"{registry.host}/app:1", retries=2, backoff=0.01)
    assert store.list() == []


def test_missing_tag_is_not_found(store, registry):
    with pytest.raises(PullError, match=r"nothere:1: manifest nothere:1: not found \(MANIFEST_UNKNOWN"):
        pull(store, f"{registry.host}/nothere:1")


def test_transient_errors_are_retried(store, registry):
    registry.push("app", "1", small_image())
    registry.fail("GET", "/manifests/", 503)
    registry.fail("GET", "/blobs/", 429)
    registry.fail("GET", "/blobs/", 500)
    registry.fail("GET", "/blobs/", "reset")
    assert pull(store, f"{registry.host}/app:1", backoff=0.01).names
    assert registry.faults == []


class FlakyTransport(HTTPTransport):
    """Raises a connection reset on the first blob request."""

    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    def request(self, method, url, headers):
        if "/blobs/" in url and self.resets == 0:
            self.resets += 1
            raise ConnectionResetError(104, "Connection reset by peer")
        return super().request(method, url, headers)


def test_injected_transport_connection_reset(store, registry):
    registry.push("app", "1", small_image())
    transport = FlakyTransport()
    assert pull(store, f"{registry.host}/app:1", transport=transport, backoff=0.01).names
    assert transport.resets == 1


def test_interrupted_download_resumes_with_range(store, registry, bb_layer):
    image = build_image([bb_layer])
    registry.push("bb", "1", image)
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    registry.fail("GET", layer, "cut")
    before = index_snapshot(store)
    with pytest.raises(PullError, match=r"bb:1: blob sha256:\w+: truncated: the connection closed early"):
        pull(store, f"{registry.host}/bb:1", retries=0)
    assert index_snapshot(store) == before and store.list() == []
    partial = os.path.join(store.tmp, layer[7:] + ".partial")
    assert 0 < os.path.getsize(partial) < len(image.blobs[layer])
    got = pull(store, f"{registry.host}/bb:1")
    assert got.names
    ranged = [r for r in registry.requests("GET", layer) if r["range"]]
    assert [r["range"] for r in ranged] == [f"bytes={len(image.blobs[layer]) // 2}-"]


def test_blob_shorter_than_its_descriptor_is_truncated(store, registry):
    image = small_image()
    registry.push("app", "1", image)
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    registry.blobs[layer] = registry.blobs[layer][:-7]
    with pytest.raises(PullError, match=r"app:1: blob sha256:\w+: truncated \(\d+ of \d+ bytes\)"):
        pull(store, f"{registry.host}/app:1")
    assert store.list() == [] and not [n for n in os.listdir(store.tmp) if n.endswith(".partial")]


def test_two_images_share_the_base_layer(store, registry, bb_layer):
    a = build_image([bb_layer, tar_bytes([file_entry("a", b"a")])])
    b = build_image([bb_layer, tar_bytes([file_entry("b", b"b")])])
    registry.push("a", "1", a)
    registry.push("b", "1", b)
    ia, ib = pull(store, f"{registry.host}/a:1"), pull(store, f"{registry.host}/b:1")
    assert ia.layer_dirs[1] == ib.layer_dirs[1]
    assert len(os.listdir(store.layers)) == 1 + 3


@pytest.mark.skipif(zstd_available(), reason="zstandard is installed: zstd layers are supported")
def test_zstd_without_module_is_a_clear_error(store, registry):
    image = build_image([tar_bytes([file_entry("x")])], compression="tar")
    doc = json.loads(image.manifest)
    doc["layers"][0]["mediaType"] += "+zstd"
    from engine.images.testing import BuiltImage
    import hashlib
    body = json.dumps(doc).encode()
    registry.push("z", "1", BuiltImage(body, "sha256:" + hashlib.sha256(body).hexdigest(),
                                       image.config, image.media_type, image.blobs))
    with pytest.raises(PullError, match="z:1: zstd-compressed layers need the 'zstandard' module"):
        pull(store, f"{registry.host}/z:1")


def test_concurrent_pulls_of_the_same_image(store, registry, bb_layer):
    import threading
    image = build_image([bb_layer, tar_bytes([file_entry("x", b"x")])])
    registry.push("bb", "1", image)
    results, errors = [], []

    def run():
        try:
            results.append(pull(ImageStore(store.root), f"{registry.host}/bb:1"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and {r.id for r in results} == {image.id}
    assert len(store.list()) == 1 and len(os.listdir(store.layers)) == 1 + 2


def test_credential_helper_from_docker_config(store, tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-fake"
    helper.write_text("#!/bin/sh\nread server\necho '{\"Username\":\"alice\",\"Secret\":\"s3cret\"}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "fake"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with FakeRegistry(auth="basic") as reg:
        reg.push("app", "1", small_image())
        assert pull(store, f"{reg.host}/app:1").names


def test_cli_pull_success_and_one_line_error(tmp_path, monkeypatch, capsys, registry):
    from orchestrator.cli.main import main
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    registry.push("app", "1", small_image())
    assert main(["pull", f"{registry.host}/app:1"]) == 0
    assert "Status: pulled" in capsys.readouterr().out
    assert main(["pull", f"{registry.host}/missing:1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"pull {registry.host}/missing:1: ") and "not found" in err
