"""shoal build for compose build: sections, and the image bootstrap command's wiring."""

from __future__ import annotations

import os

import pytest

from orchestrator.cli import main as cli_main
from orchestrator.cli.build_cmd import build_options, check_build_keys, image_name, parse_build_args


@pytest.fixture
def shoal(monkeypatch):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", (*cli_main.COMMAND_MODULES, "orchestrator.cli.build_cmd"))
    return cli_main.main


def test_options_from_a_normalised_service():
    svc = {"image": "myweb:2", "build": {"context": "/p/web", "dockerfile": "Dockerfile.prod",
                                        "args": {"A": "1", "B": "2"}, "target": "final", "labels": {"x": "y"},
                                        "tags": ["extra:1", "myweb:2"], "no_cache": True}}
    opts = build_options("proj", "web", svc, {"B": "cli"}, no_cache=False, pull=True)
    assert opts == {"context_dir": "/p/web", "dockerfile": "Dockerfile.prod", "dockerfile_inline": None,
                    "target": "final", "build_args": {"A": "1", "B": "cli"}, "labels": {"x": "y"},
                    "tags": ["myweb:2", "extra:1"], "no_cache": True, "pull": True}
    assert image_name("Proj", "api", {"build": {}}) == "proj-api"


def test_build_arg_flags():
    assert parse_build_args(["A=1", "B", "C", "D="], {"B": "from-env"}) == {"A": "1", "B": "from-env", "D": ""}


def test_parser_has_build_and_image_bootstrap(shoal, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("SHOAL_RUN", str(tmp_path / "run"))
    parser = cli_main.build_parser()
    args = parser.parse_args(["build", "--no-cache", "--build-arg", "X=1", "-q", "web"])
    assert args.services == ["web"] and args.no_cache and args.build_args == ["X=1"] and args.quiet
    args = parser.parse_args(["image", "bootstrap", "debian:bookworm-slim", "--mirror", "http://127.0.0.1/d"])
    assert args.image == "debian:bookworm-slim" and args.mirror == "http://127.0.0.1/d"
    assert shoal(["image", "bootstrap", "ubuntu:24.04"]) == 1
    assert "only debian:<suite>" in capsys.readouterr().err


@pytest.mark.root
def test_shoal_build_builds_compose_services(shoal, tmp_path, monkeypatch, busybox_rootfs, capsys):
    from engine.api import Engine
    from engine.images.archive import import_rootfs
    from engine.images.store import ImageStore
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("SHOAL_RUN", str(tmp_path / "run"))
    store = ImageStore(str(tmp_path / "root" / "images"))
    import_rootfs(store, busybox_rootfs, "busybox:latest")
    proj = tmp_path / "proj"
    (proj / "api").mkdir(parents=True)
    (proj / "api" / "Dockerfile").write_text("FROM busybox:latest\nARG MODE\nRUN echo $MODE > /mode\n")
    (proj / "compose.yaml").write_text(
        "services:\n  api:\n    build:\n      context: ./api\n      args: {MODE: compose}\n"
        "  web:\n    image: custom/web:1\n    build:\n      context: .\n"
        "      dockerfile_inline: |\n        FROM busybox:latest\n        LABEL svc=web\n      labels: {a: b}\n"
        "  db:\n    image: busybox:latest\n")
    rc = shoal(["-f", str(proj / "compose.yaml"), "build", "--build-arg", "MODE=cli"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Service api: built proj-api" in err and "[stage-0 2/2] RUN echo $MODE > /mode" in err
    assert store.lookup("custom/web:1").config["config"]["Labels"] == {"svc": "web", "a": "b"}
    engine = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    assert engine.list() == []
    layer = store.lookup("proj-api").layer_dirs[0]
    assert open(os.path.join(layer, "mode")).read() == "cli\n"
    rc = shoal(["-f", str(proj / "compose.yaml"), "build", "-q", "api"])
    out = capsys.readouterr()
    assert rc == 0 and out.out.strip() == store.lookup("proj-api").id and out.err == ""
    (proj / "api" / "Dockerfile").write_text("FROM busybox:latest\nRUN exit 7\n")
    assert shoal(["-f", str(proj / "compose.yaml"), "build", "api"]) == 1
    assert "service 'api' failed to build: Dockerfile:2: RUN: " in capsys.readouterr().err


def test_compose_build_keys_unsupported_or_ignored():
    warnings: list[str] = []
    check_build_keys("web", {"context": ".", "cache_from": ["x"], "network": "host"}, warnings.append)
    assert warnings == ["service 'web': build.cache_from is ignored (shoal keeps its own local layer cache)"]
    for build, message in (({"ssh": ["default"]}, "build.ssh is not supported"),
                           ({"secrets": ["s"]}, "build.secrets is not supported"),
                           ({"network": "mynet"}, "build.network 'mynet' is not supported"),
                           ({"platforms": ["linux/s390x"]}, "cross-platform builds are not supported")):
        with pytest.raises(cli_main.ShoalError, match=message):
            check_build_keys("web", build, warnings.append)


def test_builder_prune(shoal, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("SHOAL_RUN", str(tmp_path / "run"))
    cache = tmp_path / "root" / "build-cache"
    cache.mkdir(parents=True)
    (cache / ("a" * 64)).write_text("sha256:x")
    assert shoal(["builder", "prune", "-f"]) == 0
    assert "Deleted 1 build cache entries" in capsys.readouterr().out and not list(cache.iterdir())


def test_tty_progress_keeps_run_output_for_errors(capsys):
    from orchestrator.cli.build_cmd import _Progress
    p = _Progress("api", "tty", quiet=False)
    for line in ("#1 [stage-0 1/2] FROM busybox", "#1 DONE 0.0s", "#2 [stage-0 2/2] RUN make",
                 "#2 compiling", "#2 error: boom", "[Warning] unused"):
        p(line)
    err = capsys.readouterr().err
    assert "[api] #2 [stage-0 2/2] RUN make" in err and "boom" not in err and "[api] [Warning] unused" in err
    p.flush_tail()
    assert capsys.readouterr().err == "[api] #2 compiling\n[api] #2 error: boom\n"
