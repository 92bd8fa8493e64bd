"""Run a shell script in a real container to completion: the helper the engine tests share."""

from __future__ import annotations

import time

from engine import Engine
from engine.spec import ContainerSpec


def run(eng: Engine, rootfs: str, script: str, **kw) -> tuple[int, str, str]:
    """Run ``sh -c script`` to completion; (exit code, stdout, stderr)."""
    kw.setdefault("name", f"t{time.monotonic_ns()}")
    cid = eng.create(ContainerSpec(rootfs=rootfs, command=("sh", "-c", script), **kw))
    eng.start(cid)
    status = eng.wait(cid, 20)
    lines = list(eng.logs(cid))
    return (status.exit_code, "".join(x.message for x in lines if x.stream == "stdout"),
            "".join(x.message for x in lines if x.stream == "stderr"))
