"""Pure pieces of the engine: users, /etc files, plan defaults, log writer, spec codec, safe paths."""

from __future__ import annotations

import json
import os

import pytest

from engine import UserNotFound
from engine.container.codec import spec_from_dict, spec_to_dict
from engine.container.files import hosts_file, resolv_conf
from engine.container.plan import command_of, env_of, namespace_modes, signal_number, stop_signal_of
from engine.monitor.logs import LogWriter, log_files, read_lines
from engine.runtime.process import SetupError, lookup_command
from engine.runtime.safepath import ensure_in_root, fd_path, open_in_root
from engine.runtime.users import resolve_identity
from engine.spec import ContainerSpec, HealthcheckSpec, MountSpec, NamespaceSpec, ResourceSpec, Ulimit
from engine.state import parse_rfc3339, rfc3339_nano

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:app\napp:x:1000:\nstaff:x:50:\n"


def test_resolve_identity_by_name_id_and_group():
    ident = resolve_identity("app", PASSWD, GROUP)
    assert (ident.uid, ident.gid, ident.groups, ident.home) == (1000, 1000, (10,), "/home/app")
    assert resolve_identity("", PASSWD, GROUP).uid == 0
    assert resolve_identity("1000:staff", PASSWD, GROUP).gid == 50
    numeric = resolve_identity("4242:4343", PASSWD, GROUP)
    assert (numeric.uid, numeric.gid, numeric.home) == (4242, 4343, "/")
    assert resolve_identity("app", PASSWD, GROUP, ("staff",)).groups == (10, 50)


@pytest.mark.parametrize("user", ["ghost", "app:nogroup"])
def test_unknown_user_or_group_is_an_error(user):
    with pytest.raises(UserNotFound):
        resolve_identity(user, PASSWD, GROUP)


def test_resolv_conf_drops_loopback_and_falls_back():
    spec = ContainerSpec(name="a", rootfs="/r")
    host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\noptions ndots:2\n"
    assert resolv_conf(spec, host) == "nameserver 10.0.0.2\nsearch corp\noptions ndots:2\n"
    assert resolv_conf(spec, "nameserver 127.0.0.1\n") == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    custom = ContainerSpec(name="a", rootfs="/r", dns=("1.1.1.1",), dns_search=("x.y",))
    assert resolv_conf(custom, host) == "nameserver 1.1.1.1\nsearch x.y\noptions ndots:2\n"


def test_hosts_has_localhost_and_extra_hosts():
    text = hosts_file(ContainerSpec(name="a", rootfs="/r", extra_hosts=(("db", "10.1.2.3"),)))
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert text.endswith("10.1.2.3\tdb\n")


def test_command_env_and_stop_signal_follow_image_defaults():
    image = {"Entrypoint": ["/ep"], "Cmd": ["serve"], "Env": ["PATH=/x", "A=1"], "StopSignal": "SIGQUIT"}
    base = ContainerSpec(name="a", rootfs="/r")
    assert command_of(base, image) == ["/ep", "serve"]
    assert command_of(ContainerSpec(name="a", rootfs="/r", command=("run",)), image) == ["/ep", "run"]
    assert command_of(ContainerSpec(name="a", rootfs="/r", entrypoint=("/other",)), image) == ["/other"]
    env = env_of(ContainerSpec(name="a", rootfs="/r", env=(("A", "2"),)), image, "h")
    assert env == ["PATH=/x", "A=2", "HOSTNAME=h"]
    assert stop_signal_of(base, image) == "SIGQUIT"
    assert signal_number("TERM") == signal_number("SIGTERM") == signal_number("15") == 15


def test_namespace_modes_resolve_peers():
    spec = ContainerSpec(name="a", rootfs="/r",
                         namespaces=NamespaceSpec(network="container:web", pid="host", ipc="shareable"))
    modes = namespace_modes(spec, lambda ref: 4242 if ref == "web" else 0)
    assert modes == {"net": "/proc/4242/ns/net", "pid": "host", "ipc": "private", "uts": "private",
                     "cgroup": "private"}


def test_log_writer_lines_partial_and_rotation(tmp_path):
    path = str(tmp_path / "c.log")
    w = LogWriter(path, max_size=300, max_file=3)
    w.write("stdout", b"hel")
    w.write("stdout", b"lo\nwor")
    w.write("stderr", b"oops\n")
    w.flush()
    recs = [json.loads(x) for x in open(path)]
    assert [(r["stream"], r["log"]) for r in recs] == [("stdout", "hello\n"), ("stderr", "oops\n"),
                                                        ("stdout", "wor")]
    for i in range(40):
        w.write("stdout", f"line {i}\n".encode())
    w.close()
    files = log_files(path)
    assert files == [f"{path}.2", f"{path}.1", path]
    assert all(os.path.getsize(f) <= 300 for f in files)
    msgs = [x.message for x in read_lines(path)]
    assert msgs[-1] == "line 39\n" and msgs == sorted(msgs, key=lambda m: int(m.split()[1]))


def test_rfc3339_round_trip():
    ns = 1_700_000_000_123_456_789
    text = rfc3339_nano(ns)
    assert text == "2023-11-14T22:13:20.123456789Z"
    assert abs(parse_rfc3339(text) - ns / 1e9) < 1e-6


def test_spec_codec_round_trip():
    spec = ContainerSpec(name="a", rootfs="/r", command=("sh",), env=(("K", "V"),),
                         mounts=(MountSpec("bind", "/t", "/s", options=("nosuid",)),),
                         resources=ResourceSpec(ulimits=(Ulimit("nofile", 10, 20),)),
                         healthcheck=HealthcheckSpec(test=("CMD", "true")))
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec


def test_safe_paths_stay_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside")
    os.symlink("/", root / "escape")
    os.symlink("../../../../../../", root / "dotdot")
    rfd = os.open(root, os.O_PATH)
    try:
        for path in ("/escape/etc/passwd", "/dotdot/etc/passwd", "../../etc/passwd"):
            fd = open_in_root(rfd, path, os.O_RDONLY)
            assert os.read(fd, 100) == b"inside"
            os.close(fd)
        fd = ensure_in_root(rfd, "/escape/new/dir")
        assert os.readlink(fd_path(fd)) == str(root / "new" / "dir")
        os.close(fd)
    finally:
        os.close(rfd)


def test_lookup_command_messages(tmp_path):
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "tool", 0o755)
    assert lookup_command("tool", f"/nonexistent:{tmp_path}") == str(tmp_path / "tool")
    with pytest.raises(SetupError, match='exec: "nope": executable file not found in \\$PATH') as exc:
        lookup_command("nope", str(tmp_path))
    assert exc.value.code == 127
