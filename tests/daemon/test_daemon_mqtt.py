"""shoald with an MQTT broker: events and replica states are published, allowed steering runs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from daemon_helpers import DaemonProc, load, teardown

pytestmark = pytest.mark.root
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path):
    if not (os.path.exists(MOSQUITTO) and shutil.which("mosquitto_sub") and shutil.which("mosquitto_pub")):
        pytest.skip("needs mosquitto and mosquitto-clients")
    port = _free_port()
    (tmp_path / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "m.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def test_events_reach_mqtt_and_scale_is_steered(broker, busybox_rootfs, tmp_path):
    from engine.images.archive import import_rootfs
    from engine.images.store import ImageStore
    root, run_dir = tempfile.mkdtemp(prefix="shd-root-"), tempfile.mkdtemp(prefix="shd-")
    with open(os.path.join(root, "daemon.json"), "w") as f:
        json.dump({"mqtt": {"url": f"mqtt://127.0.0.1:{broker}", "prefix": "shoaltest",
                            "steering": {"projects": ["mq"], "actions": ["scale"]}}}, f)
    import_rootfs(ImageStore(os.path.join(root, "images")), busybox_rootfs, "busybox:latest")
    out = open(tmp_path / "sub.txt", "w")
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker), "-t", "shoaltest/#", "-v"],
                           stdout=out)
    d = DaemonProc(root, run_dir)
    d.start()
    try:
        body = load(str(tmp_path), "mq",
                    'services:\n  a: {image: "busybox:latest", command: ["sleep", "1000"], stop_grace_period: 1s}\n')
        assert d.client.op("mq", "up", body)["ok"]
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker), "-t", "shoaltest/mq/cmd", "-m",
                        json.dumps({"id": "c1", "action": "scale", "service": "a", "replicas": 2})], check=True)
        deadline = time.monotonic() + 15
        while len(d.client.request("GET", "/projects/mq/containers")) != 2:
            assert time.monotonic() < deadline, "steered scale did not happen"
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        teardown(d)
        sub.terminate()
        sub.wait(10)
        out.close()
    lines = (tmp_path / "sub.txt").read_text().splitlines()
    topics = {ln.split(" ", 1)[0] for ln in lines}
    assert {"shoaltest/status", "shoaltest/mq/events", "shoaltest/mq/a/1/state", "shoaltest/mq/a/2/state",
            "shoaltest/mq/cmd/result"} <= topics
    result = json.loads([ln for ln in lines if ln.startswith("shoaltest/mq/cmd/result ")][0].split(" ", 1)[1])
    assert result["ok"] and result["id"] == "c1"
