"""Benchmark: shoal pull + unpack of a large local image vs `skopeo copy` + `umoci unpack`.

Builds a one-layer image from a directory (default: this Python's stdlib test
suite, ~125 MB in ~3,900 files; SHOAL_BENCH_SRC to change), pushes it with skopeo to a docker-registry on
127.0.0.1, then times both pipelines from a cold store and prints the ratio.
Needs root (umoci unpack), docker-registry, skopeo and umoci.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.images.pull import pull  # noqa: E402
from engine.images.store import ImageStore  # noqa: E402
from engine.images.testing import build_image, dir_layer, write_layout  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    src = os.environ.get("SHOAL_BENCH_SRC", os.path.join(sysconfig.get_paths()["stdlib"], "test"))
    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as tmp:
        layer = dir_layer(src)
        image = build_image([layer])
        layout = write_layout(os.path.join(tmp, "layout"), {"big": image})
        port = _port()
        cfg = os.path.join(tmp, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {tmp}/data\nhttp:\n  addr: 127.0.0.1:{port}\n")
        reg = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            ref = f"127.0.0.1:{port}/big:1"
            subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:big",
                            f"docker://{ref}"], check=True)
            store = ImageStore(os.path.join(tmp, "store"))
            ours = _timed(lambda: pull(store, ref))
            again = _timed(lambda: pull(store, ref))
            theirs = _timed(lambda: (
                subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                                f"oci:{tmp}/sk:big"], check=True),
                subprocess.run(["umoci", "unpack", "--image", f"{tmp}/sk:big", f"{tmp}/bundle"],
                               check=True, capture_output=True)))
        finally:
            reg.terminate()
            reg.wait()
        mb = len(layer) / 1e6
        gz = sum(len(b) for b in image.blobs.values()) / 1e6
        print(f"image: {mb:.0f} MB tar, {gz:.0f} MB gzip, from {src}")
        print(f"shoal pull+unpack: {ours:.2f} s")
        print(f"skopeo copy + umoci unpack: {theirs:.2f} s")
        print(f"ratio shoal/reference: {ours / theirs:.2f}")
        print(f"shoal pull when already present (one HEAD): {again * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    if not all(shutil.which(t) for t in ("docker-registry", "skopeo", "umoci")):
        sys.exit("needs docker-registry, skopeo and umoci (apt-get install)")
    sys.exit(main())
