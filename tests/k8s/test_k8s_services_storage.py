"""Services, published ports, volumes, configs and secrets, and the warnings for what is lost."""

from __future__ import annotations

import base64

import pytest
from k8s_helpers import container, find, keys, project

from orchestrator.k8s import convert, lint


def _port(target, published=None, host_ip=None, protocol="tcp"):
    p = {"mode": "ingress", "target": target, "protocol": protocol}
    if published:
        p["published"] = published
    if host_ip:
        p["host_ip"] = host_ip
    return p


def test_clusterip_service_reaches_container_ports_by_the_service_name():
    data = project({"api": {"image": "a", "expose": ["8080"], "ports": [_port(9090, "30080")]}})
    result = convert(data)
    svc = find(result.manifests, "Service", "api")
    assert svc["spec"]["type"] == "ClusterIP"
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(9090, 9090), (8080, 8080)]
    assert lint(result.manifests) == []


@pytest.mark.parametrize("kind", ["NodePort", "LoadBalancer"])
def test_host_ports_become_a_published_service_of_the_chosen_type(kind):
    data = project({"web": {"image": "w", "ports": [_port(80, "30080"), _port(443, "8443"), _port(53, None, protocol="udp")]}})
    result = convert(data, service_type=kind)
    svc = find(result.manifests, "Service", "web-published")
    assert svc["spec"]["type"] == kind
    ports = {(p["port"], p["targetPort"], p["protocol"]): p.get("nodePort") for p in svc["spec"]["ports"]}
    if kind == "NodePort":
        # 30080 is a valid node port and kept; 8443 is outside the range: assigned, and warned
        assert ports == {(30080, 80, "TCP"): 30080, (8443, 443, "TCP"): None, (53, 53, "UDP"): None}
        assert ("web", "ports") in keys(result.warnings)
    else:
        assert set(ports) == {(30080, 80, "TCP"), (8443, 443, "TCP"), (53, 53, "UDP")}
    assert lint(result.manifests) == []


def test_host_ip_binding_cannot_be_kept_and_is_warned():
    result = convert(project({"web": {"image": "w", "ports": [_port(80, "31000", "127.0.0.1")]}}))
    assert any(w.key == "ports" and "127.0.0.1" in w.message for w in result.warnings)


def test_network_aliases_and_link_aliases_get_their_own_services():
    data = project({
        "db": {"image": "d", "expose": ["5432"], "networks": {"back": {"aliases": ["database"]}}},
        "app": {"image": "a", "links": ["db:pg"]},
    }, networks={"back": {}})
    result = convert(data)
    for name in ("db", "database", "pg"):
        assert find(result.manifests, "Service", name)["spec"]["selector"]["app.kubernetes.io/name"] == "db"
    assert lint(result.manifests) == []


def test_dependency_without_ports_is_warned_since_nothing_can_reach_it():
    data = project({"worker": {"image": "w"}, "app": {"image": "a", "depends_on": {"worker": {"condition": "service_started"}}}})
    assert ("worker", "expose") in keys(convert(data).warnings)


def test_shared_named_volume_is_one_claim_asking_for_read_write_many():
    vol = {"type": "volume", "source": "shared", "target": "/data"}
    data = project({"a": {"image": "a", "volumes": [vol]},
                    "b": {"image": "b", "volumes": [dict(vol, read_only=True)]}}, volumes={"shared": {}})
    result = convert(data, default_volume_size="5Gi")
    pvc = find(result.manifests, "PersistentVolumeClaim", "shared")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    b = find(result.manifests, "Deployment", "b")["spec"]["template"]["spec"]
    assert b["volumes"] == [{"name": "shared", "persistentVolumeClaim": {"claimName": "shared"}}]
    assert b["containers"][0]["volumeMounts"] == [{"mountPath": "/data", "readOnly": True, "name": "shared"}]
    assert ("", "volumes.shared") in keys(result.warnings)
    assert lint(result.manifests) == []


def test_external_volume_is_referenced_not_created_and_reported():
    data = project({"a": {"image": "a", "volumes": [{"type": "volume", "source": "ext", "target": "/d"}]}},
                   volumes={"ext": {"external": True, "name": "prod_data"}})
    result = convert(data)
    assert not any(m["kind"] == "PersistentVolumeClaim" for m in result.manifests)
    assert result.external == [("PersistentVolumeClaim", "prod-data")]
    assert lint(result.manifests) != []
    assert lint(result.manifests, result.external) == []


def test_tmpfs_and_shm_become_memory_emptydirs_with_their_size():
    data = project({"s": {"image": "i", "tmpfs": ["/run:size=64m"], "shm_size": "256m",
                          "volumes": [{"type": "tmpfs", "target": "/cache", "tmpfs": {"size": "1048576"}}]}})
    result = convert(data)
    spec = find(result.manifests, "Deployment", "s")["spec"]["template"]["spec"]
    by_path = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v["emptyDir"] for v in spec["volumes"]}
    assert volumes[by_path["/cache"]] == {"medium": "Memory", "sizeLimit": "1Mi"}
    assert volumes[by_path["/run"]] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert volumes[by_path["/dev/shm"]] == {"medium": "Memory", "sizeLimit": "256Mi"}
    assert lint(result.manifests) == []


def test_bind_mount_is_warned_and_replaced_by_an_empty_dir():
    data = project({"s": {"image": "i", "volumes": [{"type": "bind", "source": "/srv/www", "target": "/www"}]}})
    result = convert(data)
    c = container(result.manifests, "Deployment", "s")
    assert c["volumeMounts"][0]["mountPath"] == "/www"
    assert any(w.key == "volumes" and "/srv/www" in w.message for w in result.warnings)


def test_configs_and_secrets_are_created_from_their_content_and_mounted_as_files():
    files = {"/p/nginx.conf": b"server {}\n", "/p/key": b"\x00\x01secret"}
    data = project(
        {"s": {"image": "i", "configs": [{"source": "nginx", "target": "/etc/nginx/nginx.conf", "mode": "0444"}],
               "secrets": [{"source": "key"}, {"source": "token", "target": "api_token"}]}},
        configs={"nginx": {"file": "/p/nginx.conf"}},
        secrets={"key": {"file": "/p/key"}, "token": {"environment": "TOKEN"}},
    )
    result = convert(data, read_file=lambda p: files[p], environ={"TOKEN": "abc"})
    assert find(result.manifests, "ConfigMap", "nginx-config")["data"] == {"nginx": "server {}\n"}
    key = find(result.manifests, "Secret", "key-secret")
    assert base64.b64decode(key["data"]["key"]) == b"\x00\x01secret"
    assert base64.b64decode(find(result.manifests, "Secret", "token-secret")["data"]["token"]) == b"abc"
    mounts = {m["mountPath"]: m for m in container(result.manifests, "Deployment", "s")["volumeMounts"]}
    assert mounts["/etc/nginx/nginx.conf"]["subPath"] == "nginx"
    assert set(mounts) == {"/etc/nginx/nginx.conf", "/run/secrets/key", "/run/secrets/api_token"}
    volumes = find(result.manifests, "Deployment", "s")["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["configMap"]["items"] == [{"key": "nginx", "path": "nginx", "mode": 0o444}]
    assert result.warnings == []
    assert lint(result.manifests) == []


def test_unreadable_secret_is_created_empty_with_a_warning():
    data = project({"s": {"image": "i", "secrets": [{"source": "k"}]}}, secrets={"k": {"file": "/nope"}})
    result = convert(data)
    assert "data" not in find(result.manifests, "Secret", "k-secret")
    assert ("", "secrets.k") in keys(result.warnings)


@pytest.mark.parametrize("key,value", [
    ("devices", [{"source": "/dev/ttyUSB0", "target": "/dev/ttyUSB0", "permissions": "rwm"}]),
    ("ulimits", {"nofile": {"soft": 1, "hard": 2}}),
    ("logging", {"driver": "syslog"}),
    ("stop_signal", "SIGUSR1"),
    ("container_name", "c"),
    ("cgroup_parent", "x"),
    ("network_mode", "host"),
    ("network_mode", "service:other"),
    ("uts", "host"),
    ("volumes_from", ["other"]),
    ("some_future_key", "value"),
])
def test_inexpressible_keys_are_warned_with_the_service_and_key(key, value):
    result = convert(project({"s": {"image": "i", key: value}}))
    assert ("s", key) in keys(result.warnings)


def test_network_mode_host_uses_the_node_network():
    spec = find(convert(project({"s": {"image": "i", "network_mode": "host"}})).manifests,
                "Deployment", "s")["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True


def test_a_plain_service_converts_without_any_warning():
    data = project({"web": {"image": "nginx", "expose": ["80"], "restart": "always",
                            "environment": {"A": "b"}, "networks": {"default": None}}},
                   networks={"default": {"name": "demo_default"}})
    assert convert(data).warnings == []
