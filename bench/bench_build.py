"""Benchmark: image builds with shoal's builder — cold, no-change rebuild, one-file-change rebuild.

Builds a busybox-based multi-stage project (an app tree of N files, RUN steps,
COPY --from) in a temporary engine root, then rebuilds it unchanged and after
editing one file. Target: a no-change rebuild under 0.5 s. Needs root.
With ``--debian`` (and a store where ``shoal image bootstrap debian:bookworm-slim``
was run, via SHOAL_ROOT) the same is measured on a Debian base with apt-get.
Usage: python3 bench/bench_build.py [--files N] [--repeat R] [--debian]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.api import Engine  # noqa: E402
from engine.build import build  # noqa: E402
from engine.images.archive import import_rootfs  # noqa: E402
from engine.images.store import ImageStore  # noqa: E402
from engine.testing import make_busybox_rootfs  # noqa: E402

BUSYBOX_DOCKERFILE = """\
FROM busybox:latest AS build
WORKDIR /src
COPY app/ ./
RUN find . -type f | sort | xargs cat | md5sum > /checksum && mkdir -p /out && cp -r /src /out/app
FROM busybox:latest
ENV APP_HOME=/srv/app
WORKDIR /srv
COPY --from=build /out/app ./app
COPY --from=build /checksum /checksum
RUN adduser -D -H web 2>/dev/null || true
USER web
CMD ["cat", "/checksum"]
"""

DEBIAN_DOCKERFILE = """\
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv
COPY app/ ./app/
CMD ["python3", "-c", "print('ok')"]
"""


def _make_context(root: str, files: int, dockerfile: str) -> None:
    for i in range(files):
        path = os.path.join(root, "app", f"pkg{i % 10}", f"mod{i}.py")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"VALUE = {i}\n" * 20)
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write(dockerfile)


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(files: int, repeat: int, debian: bool) -> None:
    tmp = tempfile.mkdtemp(prefix="bench-build-")
    try:
        root = os.environ.get("SHOAL_ROOT") if debian else os.path.join(tmp, "root")
        engine = Engine(root, os.path.join(tmp, "run"))
        store = ImageStore(os.path.join(engine.root, "images"))
        if not debian:
            import_rootfs(store, make_busybox_rootfs(os.path.join(tmp, "rootfs")), "busybox:latest")
        ctx = os.path.join(tmp, "ctx")
        _make_context(ctx, files, DEBIAN_DOCKERFILE if debian else BUSYBOX_DOCKERFILE)
        cold = [_timed(lambda: build(ctx, store=store, engine=engine, tags=["bench:1"], no_cache=True))
                for _ in range(repeat)]
        nochange = [_timed(lambda: build(ctx, store=store, engine=engine, tags=["bench:1"]))
                    for _ in range(max(repeat, 5))]
        onefile = []
        for n in range(repeat):
            with open(os.path.join(ctx, "app", "pkg3", "mod3.py"), "a") as f:
                f.write(f"EDIT = {n}\n")
            onefile.append(_timed(lambda: build(ctx, store=store, engine=engine, tags=["bench:1"])))
        kind = "debian:bookworm-slim + apt-get python3" if debian else "busybox multi-stage"
        print(f"{kind}, {files} context files")
        for name, xs in (("cold build (no cache)", cold), ("no-change rebuild", nochange),
                         ("one-file-change rebuild", onefile)):
            print(f"  {name:26s} median {statistics.median(xs) * 1000:8.1f} ms   "
                  f"min {min(xs) * 1000:8.1f} ms   (n={len(xs)})")
        verdict = "OK" if statistics.median(nochange) < 0.5 else "SLOW"
        print(f"  target no-change < 500 ms: {verdict}")
        for info in engine.list():
            engine.remove(info.id, force=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--debian", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_build needs root (overlay mounts and containers)")
    run(args.files, args.repeat, args.debian)


if __name__ == "__main__":
    main()
