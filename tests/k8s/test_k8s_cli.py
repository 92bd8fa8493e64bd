"""`shoal convert kubernetes`: YAML stream on stdout or one file per object, warnings on stderr."""

from __future__ import annotations

import textwrap

import pytest
import yaml

pytest.importorskip("orchestrator.compose.loader")
from orchestrator.cli.main import main  # noqa: E402

COMPOSE = textwrap.dedent("""\
    name: shop
    services:
      web:
        image: nginx
        ports: ["30080:80"]
        volumes: ["./html:/usr/share/nginx/html:ro"]
        configs: [site]
      db:
        image: postgres
        volumes: [data:/var/lib/postgresql/data]
    volumes:
      data:
    configs:
      site:
        file: ./site.conf
""")


@pytest.fixture
def compose_file(tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "site.conf").write_text("listen 80;\n")
    return tmp_path / "compose.yaml"


def test_stream_on_stdout_and_warnings_on_stderr(compose_file, capsys):
    assert main(["-f", str(compose_file), "convert", "kubernetes"]) == 0
    out, err = capsys.readouterr()
    docs = list(yaml.safe_load_all(out))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("Deployment", "web"), ("StatefulSet", "db"), ("Service", "web-published"),
            ("ConfigMap", "site-config")} <= kinds
    site = next(d for d in docs if d["kind"] == "ConfigMap")
    assert site["data"] == {"site": "listen 80;\n"}  # the config file's content was read
    assert "service 'web': volumes: host bind mount" in err


def test_directory_output_one_file_per_object_in_apply_order(compose_file, tmp_path, capsys):
    out_dir = tmp_path / "k8s"
    assert main(["-f", str(compose_file), "convert", "kubernetes", "-o", str(out_dir),
                 "--namespace", "shop", "--service-type", "LoadBalancer"]) == 0
    names = sorted(p.name for p in out_dir.iterdir())
    assert names[0] == "01-namespace-shop.yaml"
    objs = [yaml.safe_load((out_dir / n).read_text()) for n in names]
    assert all(o["metadata"].get("namespace") == "shop" for o in objs[1:])
    assert any(o["kind"] == "Service" and o["spec"]["type"] == "LoadBalancer" for o in objs)
    assert f"kubectl apply -f {out_dir}" in capsys.readouterr().err


def test_replicas_flag_and_bad_service_type(compose_file, capsys):
    assert main(["-f", str(compose_file), "convert", "kubernetes", "--no-replicas-from-scale"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert all("replicas" not in d["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet"))
    with pytest.raises(SystemExit):
        main(["-f", str(compose_file), "convert", "kubernetes", "--service-type", "Ingress"])


def test_invalid_namespace_is_refused(compose_file):
    with pytest.raises(SystemExit):
        main(["-f", str(compose_file), "convert", "kubernetes", "-n", "Not_Valid"])


def test_x_kubernetes_extensions_survive_loading(tmp_path, capsys):
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          db:
            image: postgres
            x-kubernetes: {controller: deployment}
            volumes: [data:/var/lib/data]
        volumes:
          data:
            x-kubernetes: {size: 7Gi, storage_class: ssd}
    """))
    assert main(["-f", str(tmp_path / "compose.yaml"), "convert", "kubernetes"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["PersistentVolumeClaim", "Deployment"]
    assert docs[0]["spec"]["resources"]["requests"]["storage"] == "7Gi"
    assert docs[0]["spec"]["storageClassName"] == "ssd"
