"""A real Mosquitto on a free 127.0.0.1 port (anonymous or with a password file), and a watcher client."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import pathlib
import shutil
import socket
import subprocess
import time
from typing import Any, Callable

import aiomqtt
import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One mosquitto process with its own config; restartable on the same port."""

    def __init__(self, workdir: pathlib.Path, users: dict[str, str] | None = None,
                 tls: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.users = users
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "mosquitto.log"
        self.conf = workdir / "mosquitto.conf"
        self._write_config()

    def _write_config(self) -> None:
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr",
                 "log_type error", "log_type warning", "log_type notice"]
        if os.geteuid() == 0:
            lines.append(f"user {getpass.getuser()}")
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            pwfile = self.workdir / "passwd"
            pwfile.touch(mode=0o600)
            for user, password in self.users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(pwfile), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        if self.tls:
            lines += [f"cafile {self.tls['ca']}", f"certfile {self.tls['cert']}", f"keyfile {self.tls['key']}"]
            if self.tls.get("require_certificate"):
                lines.append("require_certificate true")
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Start mosquitto and wait until it accepts connections."""
        assert self.proc is None
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=logf, stderr=logf)
        logf.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM, then SIGKILL) and reap it."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


def _need_mosquitto() -> None:
    if MOSQUITTO is None:
        pytest.skip("needs the mosquitto broker (apt-get install mosquitto mosquitto-clients)")


@pytest.fixture
def broker(tmp_path):
    """An anonymous broker for one test."""
    _need_mosquitto()
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def auth_broker(tmp_path):
    """A broker that only lets ``shoal``/``s3cret pass`` in (password file made by mosquitto_passwd -b)."""
    _need_mosquitto()
    if MOSQUITTO_PASSWD is None:
        pytest.skip("needs mosquitto_passwd (apt-get install mosquitto)")
    b = Broker(tmp_path, users={"shoal": "s3cret pass"})
    b.start()
    yield b
    b.stop()


class Watcher:
    """A subscriber that records every message under a topic filter (what a fleet operator sees)."""

    def __init__(self, port: int, topic: str = "#", **auth: Any) -> None:
        self.port, self.topic, self.auth = port, topic, auth
        self.messages: list[aiomqtt.Message] = []
        self.retained: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> "Watcher":
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready, 5)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, ready: asyncio.Future[None]) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, **self.auth) as client:
            await client.subscribe(self.topic, qos=1)
            ready.set_result(None)
            async for msg in client.messages:
                self.messages.append(msg)
                payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload or "").encode()
                if msg.retain or self._is_retained_topic(str(msg.topic)):
                    if payload:
                        self.retained[str(msg.topic)] = payload
                    else:
                        self.retained.pop(str(msg.topic), None)
                self._changed.set()

    @staticmethod
    def _is_retained_topic(topic: str) -> bool:
        return topic.endswith("/state") or topic.endswith("/status")

    def on(self, topic: str) -> list[bytes]:
        """Payloads received on one exact topic, in order."""
        return [m.payload if isinstance(m.payload, bytes) else str(m.payload).encode()
                for m in self.messages if str(m.topic) == topic]

    def states(self) -> dict[str, dict[str, Any]]:
        """The retained replica states currently known, decoded."""
        return {t: json.loads(p) for t, p in self.retained.items() if t.endswith("/state")}

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds for what has been received; fail the test otherwise."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"timed out; retained={self.retained}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
            except asyncio.TimeoutError:
                pass


async def retained_snapshot(port: int, topic: str = "#", settle: float = 0.3, **auth: Any) -> dict[str, bytes]:
    """What a subscriber connecting now sees as retained messages (a late joiner's view of the fleet)."""
    got: dict[str, bytes] = {}
    async with aiomqtt.Client("127.0.0.1", port, **auth) as client:
        await client.subscribe(topic, qos=1)
        while True:
            try:
                msg = await asyncio.wait_for(anext(client.messages), settle)
            except asyncio.TimeoutError:
                return got
            if msg.retain:
                got[str(msg.topic)] = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()


def make_certs(workdir: pathlib.Path) -> dict[str, str]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl to make test certificates")
    d = workdir / "pki"
    d.mkdir()

    def ossl(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=shoal test CA")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={name}")
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", *ext)
    return {k: str(d / v) for k, v in {"ca": "ca.pem", "cert": "server.pem", "key": "server.key",
                                        "client_cert": "client.pem", "client_key": "client.key"}.items()}


@pytest.fixture
def tls_broker(tmp_path):
    """A broker on TLS only, requiring a client certificate signed by the test CA."""
    _need_mosquitto()
    certs = make_certs(tmp_path)
    b = Broker(tmp_path, tls=dict(certs, require_certificate="1"))
    b.start()
    b.certs = certs
    yield b
    b.stop()
