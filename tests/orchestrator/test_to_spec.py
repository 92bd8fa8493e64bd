"""Every compose attribute the engine enforces reaches the ContainerSpec (loaded through the real loader)."""

from __future__ import annotations

import textwrap

import pytest

from engine.spec import (DeviceSpec, HealthcheckSpec, LogSpec, MountSpec, NetworkAttachment, Ulimit)
from orchestrator.compose.loader import ProjectOptions, load_project
from orchestrator.reconciler.hash import config_hash
from orchestrator.to_spec import anonymous_volume_name, container_spec


@pytest.fixture
def load(tmp_path):
    def _load(yaml_text, service="s", number=1, **kw):
        path = tmp_path / "compose.yaml"
        path.write_text(textwrap.dedent(yaml_text))
        loaded = load_project(ProjectOptions(files=[str(path)], project_name="p", cwd=str(tmp_path),
                                             os_env={}))
        proj = loaded.project
        return container_spec(proj, proj.services[service], number, working_dir=loaded.working_dir,
                              config_files=loaded.config_files, **kw), proj, tmp_path
    return _load


def one(body: str) -> str:
    return "services:\n  s:\n    image: busybox\n" + textwrap.indent(textwrap.dedent(body), "    ")


ROWS = [
    # (compose body of service s, attribute path on the spec, expected)
    ("", "name", "p-s-1"),
    ("container_name: web\n", "name", "web"),
    ("", "rootfs", "busybox"),
    ("", "init", True),
    ("init: false\n", "init", False),
    ("command: echo hi\n", "command", ("echo", "hi")),
    ('command: ["a", "b c"]\n', "command", ("a", "b c")),
    ("entrypoint: /bin/sh -c\n", "entrypoint", ("/bin/sh", "-c")),
    ("", "entrypoint", None),
    ("environment: {A: '1', B: x}\n", "env", (("A", "1"), ("B", "x"))),
    ("environment: [A=1, UNSET]\n", "env", (("A", "1"),)),
    ("working_dir: /app\n", "working_dir", "/app"),
    ("user: '1000:1000'\n", "user", "1000:1000"),
    ("hostname: h\ndomainname: example.org\n", "hostname", "h"),
    ("domainname: example.org\n", "domainname", "example.org"),
    ("tty: true\nstdin_open: true\n", "tty", True),
    ("stdin_open: true\n", "stdin_open", True),
    ("stop_signal: SIGINT\n", "stop_signal", "SIGINT"),
    ("stop_grace_period: 1m30s\n", "stop_grace_period", 90.0),
    ("", "stop_grace_period", 10.0),
    ("mem_limit: 64m\n", "resources.memory", 64 << 20),
    ("deploy: {resources: {limits: {memory: 32m, cpus: '1.5', pids: 50}}}\n", "resources.memory", 32 << 20),
    ("deploy: {resources: {limits: {cpus: '1.5'}}}\n", "resources.cpus", 1.5),
    ("deploy: {resources: {limits: {pids: 50}}}\n", "resources.pids_limit", 50),
    ("deploy: {resources: {reservations: {memory: 16m}}}\n", "resources.memory_reservation", 16 << 20),
    ("mem_reservation: 8m\n", "resources.memory_reservation", 8 << 20),
    ("memswap_limit: 128m\n", "resources.memory_swap", 128 << 20),
    ("cpus: 0.25\n", "resources.cpus", 0.25),
    ("cpu_shares: 512\n", "resources.cpu_shares", 512),
    ("cpuset: '0-1'\n", "resources.cpuset_cpus", "0-1"),
    ("pids_limit: 100\n", "resources.pids_limit", 100),
    ("shm_size: 128m\n", "resources.shm_size", 128 << 20),
    ("", "resources.shm_size", 64 << 20),
    ("oom_score_adj: 500\n", "resources.oom_score_adj", 500),
    ("ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}\n", "resources.ulimits",
     (Ulimit("nofile", 20000, 40000), Ulimit("nproc", 65535, 65535))),
    ("cap_add: [NET_ADMIN]\ncap_drop: [ALL]\n", "security.cap_add", ("NET_ADMIN",)),
    ("cap_drop: [ALL]\n", "security.cap_drop", ("ALL",)),
    ("privileged: true\n", "security.privileged", True),
    ("read_only: true\n", "security.read_only_rootfs", True),
    ("security_opt: [no-new-privileges:true]\n", "security.no_new_privileges", True),
    ("security_opt: [no-new-privileges]\n", "security.no_new_privileges", True),
    ("security_opt: [seccomp=unconfined]\n", "security.seccomp", "unconfined"),
    ("security_opt: ['seccomp:/p.json']\n", "security.seccomp", "/p.json"),
    ("devices: ['/dev/fuse']\n", "security.devices", (DeviceSpec("/dev/fuse", "/dev/fuse", "rwm"),)),
    ("devices: ['/dev/sda:/dev/xvda:r']\n", "security.devices", (DeviceSpec("/dev/sda", "/dev/xvda", "r"),)),
    ("sysctls: {net.core.somaxconn: 1024}\n", "security.sysctls", (("net.core.somaxconn", "1024"),)),
    ("sysctls: [net.ipv4.ip_forward=1]\n", "security.sysctls", (("net.ipv4.ip_forward", "1"),)),
    ("extra_hosts: ['db:10.0.0.2', 'v6=::1']\n", "extra_hosts", (("db", "10.0.0.2"), ("v6", "::1"))),
    ("dns: 8.8.8.8\n", "dns", ("8.8.8.8",)),
    ("dns_search: [a.example, b.example]\n", "dns_search", ("a.example", "b.example")),
    ("dns_opt: [ndots:2]\n", "dns_options", ("ndots:2",)),
    ("logging: {driver: json-file, options: {max-size: 1m, max-file: '2'}}\n", "log",
     LogSpec("json-file", 1 << 20, 2)),
    ("logging: {driver: none}\n", "log.driver", "none"),
    ("network_mode: host\n", "namespaces.network", "host"),
    ("network_mode: none\n", "namespaces.network", "none"),
    ("network_mode: host\n", "networks", ()),
    ("pid: host\n", "namespaces.pid", "host"),
    ("ipc: shareable\n", "namespaces.ipc", "shareable"),
    ("", "namespaces.network", "private"),
    ("healthcheck: {test: ['CMD', 'true'], interval: 2s, timeout: 1s, retries: 5, start_period: 10s, "
     "start_interval: 1s}\n", "healthcheck", HealthcheckSpec(("CMD", "true"), 2, 1, 5, 10, 1)),
    ("healthcheck: {test: 'curl -f localhost'}\n", "healthcheck",
     HealthcheckSpec(("CMD-SHELL", "curl -f localhost"))),
    ("healthcheck: {test: ['NONE']}\n", "healthcheck", None),
    ("healthcheck: {test: ['CMD', 'true'], disable: true}\n", "healthcheck", None),
    ("", "healthcheck", None),
    ("labels: {team: web}\n", "labels.team", "web"),
]


def _get(spec, path):
    value = spec
    for part in path.split("."):
        if part in ("team",):
            return dict(value)[part]
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("body,path,expected", ROWS, ids=[f"{r[1]}:{r[0][:30]}" for r in ROWS])
def test_attribute_reaches_spec(load, body, path, expected):
    spec, _, _ = load(one(body))
    assert _get(spec, path) == expected


def test_compose_labels(load):
    spec, proj, tmp = load(one("depends_on: {db: {condition: service_healthy, restart: true}}\n") +
                           "  db:\n    image: pg\n", number=2)
    labels = dict(spec.labels)
    assert labels["com.docker.compose.project"] == "p"
    assert labels["com.docker.compose.service"] == "s"
    assert labels["com.docker.compose.container-number"] == "2"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.project.working_dir"] == str(tmp)
    assert labels["com.docker.compose.project.config_files"] == str(tmp / "compose.yaml")
    assert labels["com.docker.compose.config-hash"] == config_hash(proj.services["s"])
    assert labels["com.docker.compose.depends_on"] == "db:service_healthy:true"
    assert labels["com.docker.compose.image"] == "busybox"
    assert "com.docker.compose.version" in labels
    assert spec.name == "p-s-2"


def test_extra_labels_and_oneoff(load):
    spec, _, _ = load(one(""), extra_labels=[("x", "1")], oneoff=True, name="p-s-run-abc")
    labels = dict(spec.labels)
    assert labels["x"] == "1" and labels["com.docker.compose.oneoff"] == "True" and spec.name == "p-s-run-abc"


def test_mounts(load):
    body = one("""\
        volumes:
          - data:/data
          - ./src:/src:ro
          - /anon
          - type: tmpfs
            target: /t
            tmpfs: {size: 1m, mode: 0755}
          - type: bind
            source: ./nocreate
            target: /nc
            bind: {create_host_path: false, propagation: rshared}
          - type: volume
            source: data
            target: /sub
            volume: {subpath: sub, nocopy: true}
          - ext:/ext
        tmpfs: ['/run:size=64k,mode=700,noexec']
        """) + "volumes:\n  data: {}\n  ext: {external: true, name: shared}\n"
    spec, proj, tmp = load(body, number=3)
    anon = anonymous_volume_name(proj, proj.services["s"], 3, "/anon")
    assert spec.mounts == (
        MountSpec("volume", "/data", "p_data"),
        MountSpec("bind", "/src", str(tmp / "src"), True, create_host_path=True),
        MountSpec("volume", "/anon", anon),
        MountSpec("tmpfs", "/t", tmpfs_size=1 << 20, tmpfs_mode=0o755),
        MountSpec("bind", "/nc", str(tmp / "nocreate"), propagation="rshared", create_host_path=False),
        MountSpec("volume", "/sub", "p_data", subpath="sub", options=("nocopy",)),
        MountSpec("volume", "/ext", "shared"),
        MountSpec("tmpfs", "/run", tmpfs_size=64 << 10, tmpfs_mode=0o700, options=("noexec",)),
    )
    # The anonymous volume's name is stable per slot and target: a recreate reuses it.
    again, _, _ = load(body, number=3)
    assert again.mounts[2].source == anon and anon.startswith("p_s_3_anon_")


def test_file_secrets_and_configs_are_read_only_binds(load, tmp_path):
    (tmp_path / "pw.txt").write_text("x")
    (tmp_path / "app.conf").write_text("y")
    body = one("secrets: [pw, {source: pw, target: other}]\nconfigs: [app, {source: app, target: /etc/app.conf}]\n"
               ) + "secrets:\n  pw: {file: ./pw.txt}\nconfigs:\n  app: {file: ./app.conf}\n"
    spec, _, tmp = load(body)
    assert spec.mounts == (
        MountSpec("bind", "/run/secrets/pw", str(tmp / "pw.txt"), True),
        MountSpec("bind", "/run/secrets/other", str(tmp / "pw.txt"), True),
        MountSpec("bind", "/app", str(tmp / "app.conf"), True),
        MountSpec("bind", "/etc/app.conf", str(tmp / "app.conf"), True),
    )


def test_networks_order_aliases_and_addresses(load):
    body = one("""\
        networks:
          back: {aliases: [api], ipv4_address: 172.20.0.5}
          front: {priority: 10}
        """) + "networks:\n  front: {}\n  back: {ipam: {config: [{subnet: 172.20.0.0/16}]}}\n"
    spec, _, _ = load(body, networks_ns="/run/shoal/netns/x")
    assert spec.networks == (
        NetworkAttachment("p_front", "eth0", aliases=("s",)),
        NetworkAttachment("p_back", "eth1", ipv4_address="172.20.0.5", aliases=("s", "api")),
    )
    assert spec.namespaces.network == "/run/shoal/netns/x"


def test_default_network_and_service_namespace(load):
    spec, _, _ = load(one("") + "  side:\n    image: busybox\n    network_mode: service:s\n", service="side")
    assert spec.namespaces.network == "container:p-s-1" and spec.networks == ()
    spec, _, _ = load(one(""))
    assert spec.networks == (NetworkAttachment("p_default", "eth0", aliases=("s",)),)


IMAGE = {"Entrypoint": ["/entry.sh"], "Cmd": ["serve"],
         "Healthcheck": {"Test": ["CMD-SHELL", "check"], "Interval": 5_000_000_000, "Retries": 2}}


@pytest.mark.parametrize("body,entrypoint,command", [
    ("", ("/entry.sh",), ("serve",)),
    ("command: run\n", ("/entry.sh",), ("run",)),
    ("entrypoint: /other\n", ("/other",), ()),  # a new entrypoint drops the image's Cmd
    ("entrypoint: /other\ncommand: x\n", ("/other",), ("x",)),
    ("entrypoint: ''\n", (), ()),
    ("entrypoint: []\ncommand: [sh]\n", (), ("sh",)),
])
def test_command_rules_against_the_image(load, body, entrypoint, command):
    spec, _, _ = load(one(body), image_config=IMAGE)
    assert (spec.entrypoint, spec.command) == (entrypoint, command)


def test_image_healthcheck_is_used_and_compose_timings_override_it(load):
    spec, _, _ = load(one(""), image_config=IMAGE)
    assert spec.healthcheck == HealthcheckSpec(("CMD-SHELL", "check"), interval=5.0, retries=2)
    spec, _, _ = load(one("healthcheck: {interval: 1s}\n"), image_config=IMAGE)
    assert spec.healthcheck == HealthcheckSpec(("CMD-SHELL", "check"), interval=1.0, retries=2)
    spec, _, _ = load(one("healthcheck: {disable: true}\n"), image_config=IMAGE)
    assert spec.healthcheck is None


@pytest.mark.parametrize("body,message", [
    ("security_opt: ['apparmor:x']\n", 'unsupported security_opt "apparmor:x"'),
    ("logging: {driver: syslog}\n", 'unsupported logging driver "syslog"'),
])
def test_unsupported_values_name_the_service(load, body, message):
    with pytest.raises(ValueError, match=message):
        load(one(body))


def test_build_only_service_uses_compose_image_name(load):
    spec, _, _ = load("services:\n  s:\n    build: .\n")
    assert spec.rootfs == "p-s"


SECRETS = """\
services:
  s:
    image: busybox
    secrets: [token, {source: cert, target: tls.pem, uid: "1000", gid: "1001", mode: 0400}]
    configs: [motd, {source: motd, target: /etc/motd}]
secrets:
  token: {environment: TOKEN}
  cert: {file: ./cert.pem}
  unused: {external: true}
configs:
  motd: {content: "hello ${TOKEN}"}
"""


def _project(tmp_path):
    (tmp_path / "compose.yaml").write_text(SECRETS)
    (tmp_path / "cert.pem").write_bytes(b"CERT")
    loaded = load_project(ProjectOptions(files=[str(tmp_path / "compose.yaml")], project_name="p",
                                         cwd=str(tmp_path), os_env={"TOKEN": "t0k"}))
    return loaded.project, loaded.environment


def test_projected_files_from_environment_file_and_content(tmp_path):
    from orchestrator.to_spec_files import projected_files
    proj, env = _project(tmp_path)
    files = projected_files(proj, proj.services["s"], env)
    assert [(f.kind, f.target, f.data(), f.uid, f.gid, oct(f.mode)) for f in files] == [
        ("secret", "/run/secrets/token", b"t0k", 0, 0, "0o444"),
        ("secret", "/run/secrets/tls.pem", b"CERT", 1000, 1001, "0o400"),
        ("config", "/motd", b"hello t0k", 0, 0, "0o444"),
        ("config", "/etc/motd", b"hello t0k", 0, 0, "0o444"),
    ]
    assert len({f.relpath for f in files}) == 4


def test_materialized_files_are_bound_read_only(tmp_path):
    import os
    import stat
    from orchestrator.to_spec_files import materialize, projected_files
    proj, env = _project(tmp_path)
    files_dir = tmp_path / "files"
    materialize(str(files_dir), projected_files(proj, proj.services["s"], env))
    spec = container_spec(proj, proj.services["s"], 1, files_dir=str(files_dir))
    binds = {m.target: m for m in spec.mounts}
    assert set(binds) == {"/run/secrets/token", "/run/secrets/tls.pem", "/motd", "/etc/motd"}
    assert all(m.type == "bind" and m.read_only for m in binds.values())
    cert = binds["/run/secrets/tls.pem"].source
    assert open(cert, "rb").read() == b"CERT" and stat.S_IMODE(os.stat(cert).st_mode) == 0o400
    assert open(binds["/run/secrets/token"].source, "rb").read() == b"t0k"
    # Without a files directory only file sources can be bound, straight from the host.
    plain = container_spec(proj, proj.services["s"], 1)
    assert [(m.target, m.source) for m in plain.mounts] == [("/run/secrets/tls.pem", str(tmp_path / "cert.pem"))]


def test_unset_secret_variable_is_an_error_naming_the_service(tmp_path):
    from orchestrator.to_spec_files import projected_files
    proj, _ = _project(tmp_path)
    with pytest.raises(ValueError, match='service "s": secret "token" reads unset variable TOKEN'):
        projected_files(proj, proj.services["s"], {})
