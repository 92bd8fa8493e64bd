"""shoal image bootstrap: target parsing, slim cleaning, and (SHOAL_SLOW_TESTS=1) a real debootstrap."""

from __future__ import annotations

import os
import time

import pytest

from engine.build.bootstrap import BootstrapError, clean_rootfs, parse_target


def test_parse_target():
    assert parse_target("debian:bookworm") == "bookworm"
    assert parse_target("docker.io/library/debian:trixie-slim") == "trixie"
    for bad in ("ubuntu:24.04", "debian:12", "debian", "debian:bookworm-backports"):
        with pytest.raises(BootstrapError, match="only debian:<suite>"):
            parse_target(bad)


def _touch(root, rel, text="x"):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_clean_rootfs_like_official_slim(tmp_path):
    root = str(tmp_path)
    for rel in ("usr/share/doc/bash/copyright", "usr/share/doc/bash/README.gz", "usr/share/man/man1/ls.1.gz",
                "usr/share/locale/de/LC_MESSAGES/x.mo", "usr/share/locale/locale.alias", "var/lib/apt/lists/pkgs",
                "var/cache/apt/pkgcache.bin", "var/log/dpkg.log", "etc/resolv.conf", "usr/bin/bash",
                "etc/hostname"):
        _touch(root, rel, "nameserver 10.0.0.1\n" if rel == "etc/resolv.conf" else "x")
    clean_rootfs(root)
    assert os.path.exists(os.path.join(root, "usr/share/doc/bash/copyright"))
    assert os.path.exists(os.path.join(root, "usr/share/locale/locale.alias"))
    assert os.path.exists(os.path.join(root, "usr/bin/bash"))
    for gone in ("usr/share/doc/bash/README.gz", "usr/share/man/man1", "usr/share/locale/de",
                 "var/lib/apt/lists/pkgs", "var/cache/apt/pkgcache.bin", "var/log/dpkg.log"):
        assert not os.path.exists(os.path.join(root, gone)), gone
    assert os.path.getsize(os.path.join(root, "etc/resolv.conf")) == 0
    assert "path-exclude /usr/share/doc/*" in open(os.path.join(root, "etc/dpkg/dpkg.cfg.d/docker")).read()
    assert os.path.exists(os.path.join(root, "etc/apt/apt.conf.d/docker-clean"))
    assert os.access(os.path.join(root, "usr/sbin/policy-rc.d"), os.X_OK)


@pytest.mark.root
@pytest.mark.skipif(os.environ.get("SHOAL_SLOW_TESTS") != "1",
                    reason="debootstraps Debian from the mirror (~1 min): set SHOAL_SLOW_TESTS=1")
def test_bootstrap_debian_and_build_on_it(tmp_path):
    from engine.api import Engine
    from engine.build import build
    from engine.build.bootstrap import bootstrap
    from engine.images.store import ImageStore
    engine = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    store = ImageStore(os.path.join(engine.root, "images"))
    started = time.monotonic()
    result = bootstrap(store, "debian:bookworm-slim", cache_dir=os.environ.get("SHOAL_DEBOOTSTRAP_CACHE"))
    assert time.monotonic() - started < 300
    assert result.names == ["debian:bookworm", "debian:bookworm-slim"]
    assert store.lookup("debian:bookworm").id == store.lookup("debian:bookworm-slim").id == result.image_id
    assert 40e6 < result.size < 200e6
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM debian:bookworm-slim\n"
                                    "RUN test ! -e /usr/share/man/man1 && ls /var/lib/apt/lists | wc -l > /lists "
                                    "&& . /etc/os-release && echo $VERSION_CODENAME > /codename\n")
    image = build(str(ctx), store=store, engine=engine, tags=["deb:test"])
    top = store.lookup(image).layer_dirs[0]
    assert open(os.path.join(top, "codename")).read() == "bookworm\n"
    assert open(os.path.join(top, "lists")).read() == "1\n"  # only partial/
    assert engine.list() == []
