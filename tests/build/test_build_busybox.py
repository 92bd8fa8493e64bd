"""shoal image bootstrap busybox: a base image from Debian's busybox-static, so examples run offline."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.build.bootstrap import bootstrap, parse_target
from engine.images.store import ImageStore
from engine.spec import ContainerSpec


def test_busybox_targets_parse():
    assert parse_target("busybox") == "busybox"
    assert parse_target("docker.io/library/busybox:1.36") == "busybox"


@pytest.mark.root
def test_bootstrap_busybox_runs_and_is_idempotent(tmp_path):
    store = ImageStore(str(tmp_path / "root" / "images"))
    first = bootstrap(store, "busybox:1.35")
    assert sorted(first.names) == ["busybox:1.35", "busybox:latest"]
    again = bootstrap(store, "busybox:1.35")
    assert again.image_id == first.image_id
    assert len(store.list()) == 1  # no dangling second image
    engine = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    cid = engine.create(ContainerSpec(name="bb", rootfs="busybox:latest",
                                      command=("sh", "-c", "echo hi from $(busybox | head -1 | cut -d' ' -f1)")))
    try:
        engine.start(cid)
        assert engine.wait(cid, timeout=20).exit_code == 0
        assert "hi from BusyBox" in "".join(line.message for line in engine.logs(cid))
    finally:
        engine.remove(cid, force=True)
        engine.close()
