"""Pure helpers: platforms, challenges, schemes, chain IDs, manifest decoding, credentials files."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest

from engine.images import auth, oci
from engine.images.errors import ImageError, ImageNotFound
from engine.images.platform import Platform, parse_platform, select_manifest
from engine.images.registry import RegistryClient, is_loopback, parse_challenge

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def test_chain_ids_follow_the_spec():
    second = "sha256:" + hashlib.sha256(f"{A} {B}".encode()).hexdigest()
    assert oci.chain_ids([A, B]) == [A, second]
    assert oci.chain_ids([]) == []


@pytest.mark.parametrize("text,expected", [
    ("linux/arm64", Platform("linux", "arm64")), ("arm64", Platform("linux", "arm64")),
    ("linux/arm/v7", Platform("linux", "arm", "v7")), ("linux/x86_64", Platform("linux", "amd64")),
])
def test_parse_platform(text, expected):
    assert parse_platform(text) == expected


def test_select_manifest_skips_attestations_and_prefers_variant():
    index = {"manifests": [
        {"digest": "att", "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        {"digest": "v7", "platform": {"os": "linux", "architecture": "arm64", "variant": "v7"}},
        {"digest": "v8", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": "amd", "platform": {"os": "linux", "architecture": "amd64"}},
    ]}
    assert select_manifest(index, Platform("linux", "arm64", "v8"))["digest"] == "v8"
    assert select_manifest(index, Platform("linux", "amd64"))["digest"] == "amd"
    with pytest.raises(ImageError, match=r"no matching manifest for windows/amd64 .*linux/amd64"):
        select_manifest(index, Platform("windows", "amd64"))


def test_parse_challenge():
    assert parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"') == (
        "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"})
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_plain_http_only_for_loopback_or_insecure():
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.example.com:5000")
    assert RegistryClient("localhost:5000").base == "http://localhost:5000"
    assert RegistryClient("reg.example.com").base == "https://reg.example.com"
    assert RegistryClient("reg.example.com", insecure=True).base == "http://reg.example.com"
    assert RegistryClient("docker.io").base == "https://registry-1.docker.io"


def test_parse_manifest_refuses_schema1_and_unknown_types():
    with pytest.raises(ImageError, match="schema 1"):
        oci.parse_manifest(json.dumps({"schemaVersion": 1, "fsLayers": []}).encode())
    with pytest.raises(ImageError, match="unknown manifest media type"):
        oci.parse_manifest(b'{"schemaVersion":2,"mediaType":"application/x-helm"}')
    media, _ = oci.parse_manifest(b'{"schemaVersion":2,"config":{},"layers":[]}')
    assert media == oci.OCI_MANIFEST
    media, _ = oci.parse_manifest(b'{"schemaVersion":2}', oci.DOCKER_LIST + "; charset=utf-8")
    assert media == oci.DOCKER_LIST


def test_digest_paths_cannot_escape():
    with pytest.raises(ImageError, match="malformed digest"):
        oci.digest_hex("sha256:../../etc/passwd")


def test_login_logout_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    auth.login(str(tmp_path), "docker.io", "bob", "pw:with:colons")
    path = tmp_path / "auth.json"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    doc = json.loads(path.read_text())
    assert base64.b64decode(doc["auths"]["https://index.docker.io/v1/"]["auth"]) == b"bob:pw:with:colons"
    assert auth.resolve("docker.io", str(tmp_path)) == ("bob", "pw:with:colons")
    assert auth.resolve("other.example", str(tmp_path)) is None
    assert auth.logout(str(tmp_path), "docker.io") and not auth.logout(str(tmp_path), "docker.io")
    assert auth.resolve("docker.io", str(tmp_path)) is None


def test_image_not_found_is_an_engine_error():
    from engine.errors import EngineError
    assert issubclass(ImageNotFound, EngineError)
