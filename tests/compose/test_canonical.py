"""Short syntax -> long syntax, checked against Compose's documented results."""

from __future__ import annotations

import pytest

from orchestrator.compose.canonical import canonicalize, parse_port, parse_volume
from orchestrator.compose.errors import ComposeError

WD, HOME = "/proj", "/home/me"


def svc(**service):
    """Canonicalise one service ``s`` and return it."""
    out = canonicalize({"services": {"s": service}}, working_dir=WD, home=HOME)
    return out["services"]["s"]


def port(target, published=None, host_ip=None, protocol="tcp"):
    entry = {"mode": "ingress"}
    if host_ip:
        entry["host_ip"] = host_ip
    entry["target"] = target
    if published is not None:
        entry["published"] = published
    entry["protocol"] = protocol
    return entry


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("3000", [port(3000)]),
        (8600, [port(8600)]),
        ("8000:8000", [port(8000, "8000")]),
        ("49100:22", [port(22, "49100")]),
        ("53:53/udp", [port(53, "53", protocol="udp")]),
        ("9090-9091:8080-8081", [port(8080, "9090"), port(8081, "9091")]),
        ("127.0.0.1:8080-8081:80-81/udp",
         [port(80, "8080", "127.0.0.1", "udp"), port(81, "8081", "127.0.0.1", "udp")]),
        ("8000-8005:80", [port(80, "8000-8005")]),
        ("127.0.0.1::5000", [port(5000, host_ip="127.0.0.1")]),
        ("[::1]:6001:6001", [port(6001, "6001", "::1")]),
        ("::1:6000:6000", [port(6000, "6000", "::1")]),
        ("3001-3003", [port(3001), port(3002), port(3003)]),
        ("80/SCTP", [port(80, protocol="sctp")]),
        # nat sorts by "port/proto" text, so 100 comes before 99
        ("99-100", [port(100), port(99)]),
    ],
)
def test_port_short_syntax(spec, expected):
    assert parse_port(spec) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("127.0.1:80:80", "Invalid ip address: 127.0.1"),
        ("80/xyz", "Invalid proto: xyz"),
        ("8000-8001:80-82", "Invalid ranges specified for container and host Ports"),
        ("abc", "Invalid containerPort: abc"),
        ("x:80", "Invalid hostPort: x"),
        ("70000", "Invalid containerPort: 70000"),
        ("90-80", "Invalid range specified for the Port: 90-80"),
    ],
)
def test_bad_ports_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_port(spec)


def test_bad_port_in_model_is_a_compose_error():
    with pytest.raises(ComposeError, match="Invalid proto: foo"):
        svc(ports=["80/foo"])


def test_long_port_gets_defaults_and_string_published():
    assert svc(ports=[{"target": 80, "published": 8080}]) == {
        "ports": [{"target": 80, "published": "8080", "mode": "ingress", "protocol": "tcp"}]
    }


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("/data", {"type": "volume", "target": "/data", "volume": {}}),
        ("db:/var/lib/db", {"type": "volume", "source": "db", "target": "/var/lib/db", "volume": {}}),
        ("db:/d:nocopy", {"type": "volume", "source": "db", "target": "/d", "volume": {"nocopy": True}}),
        ("./src:/app:ro", {"type": "bind", "source": "./src", "target": "/app", "read_only": True, "bind": {}}),
        ("/h:/c:rw,Z,rshared",
         {"type": "bind", "source": "/h", "target": "/c", "bind": {"selinux": "Z", "propagation": "rshared"}}),
        ("~/x:/x", {"type": "bind", "source": "~/x", "target": "/x", "bind": {}}),
        ("${DATA:-/mnt}/d:/data", {"type": "volume", "source": "${DATA:-/mnt}/d", "target": "/data", "volume": {}}),
        ("C:\\data:/data", {"type": "bind", "source": "C:\\data", "target": "/data", "bind": {}}),
        ("/a:/b:unknownopt", {"type": "bind", "source": "/a", "target": "/b", "bind": {}}),
    ],
)
def test_volume_short_syntax(spec, expected):
    assert parse_volume(spec) == expected


@pytest.mark.parametrize(
    "spec, message", [("/a:/b:ro:x", "too many colons"), ("/a::/b", "empty section between colons"), ("", "empty")]
)
def test_bad_volumes(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_volume(spec)


def test_bind_sources_become_absolute():
    volumes = svc(volumes=[".:/code", "./static:/www", "~/cfg:/etc/cfg:ro", "../up:/up",
                           {"type": "bind", "source": "./opt", "target": "/opt"}, "named:/n"])["volumes"]
    assert [v.get("source") for v in volumes] == ["/proj", "/proj/static", "/home/me/cfg", "/up", "/proj/opt", "named"]


def test_tmpfs_size_in_bytes():
    [vol] = svc(volumes=[{"type": "tmpfs", "target": "/t", "tmpfs": {"size": "64m"}}])["volumes"]
    assert vol["tmpfs"] == {"size": "67108864"}


def test_depends_on_forms():
    assert svc(depends_on=["db"])["depends_on"] == {"db": {"condition": "service_started", "required": True}}
    long = svc(depends_on={"db": {"condition": "service_healthy", "restart": True}})["depends_on"]
    assert long == {"db": {"condition": "service_healthy", "restart": True, "required": True}}
    assert svc(depends_on={"db": {"required": False, "restart": False}})["depends_on"] == {
        "db": {"condition": "service_started", "required": False}
    }


def test_healthcheck_string_and_durations():
    hc = svc(healthcheck={"test": "curl -f http://x", "interval": "90s", "timeout": "1s", "start_period": "1m"})
    assert hc["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -f http://x"], "interval": "1m30s", "timeout": "1s", "start_period": "1m0s"
    }


def test_bad_duration_is_a_compose_error():
    with pytest.raises(ComposeError, match="invalid duration"):
        svc(stop_grace_period="ten seconds")


def test_build_string_and_paths():
    assert svc(build="./app")["build"] == {"context": "/proj/app"}
    assert svc(build={"context": "https://github.com/x/y.git#main"})["build"]["context"].startswith("https://")
    build = svc(build={"args": ["A=1", "B"], "additional_contexts": ["x=./x", "img=docker-image://alpine"]})["build"]
    assert build == {
        "context": "/proj",
        "args": {"A": "1", "B": None},
        "additional_contexts": {"x": "/proj/x", "img": "docker-image://alpine"},
    }


def test_command_string_is_shell_split():
    assert svc(command="bundle exec thin -p 3000")["command"] == ["bundle", "exec", "thin", "-p", "3000"]
    assert svc(entrypoint="sh -c 'echo a b'")["entrypoint"] == ["sh", "-c", "echo a b"]
    assert svc(command=["echo", 1])["command"] == ["echo", "1"]


def test_maps_from_lists_and_scalars_as_text():
    s = svc(environment=["A=1", "B", "C="], labels=["x=1", "y"], sysctls={"net.core.somaxconn": 1024},
            annotations={"n": 42, "e": None})
    assert s["environment"] == {"A": "1", "B": None, "C": ""}
    assert s["labels"] == {"x": "1", "y": ""}
    assert s["sysctls"] == {"net.core.somaxconn": "1024"}
    assert s["annotations"] == {"n": "42", "e": ""}


def test_networks_secrets_ulimits_devices_hosts():
    s = svc(
        networks=["front", "back"],
        secrets=["token", {"source": "key", "mode": "0440", "uid": 103}],
        ulimits={"nproc": 65535, "nofile": {"soft": 1, "hard": 2}},
        devices=["/dev/ttyUSB0", "/dev/a:/dev/b:r"],
        extra_hosts=["otherhost:50.31.209.229", "h6:::1", "eq=1.2.3.4"],
        dns="8.8.8.8",
        tmpfs="/run",
        expose=[3000, "8000-8001"],
    )
    assert s["networks"] == {"front": None, "back": None}
    assert s["secrets"] == [{"source": "token"}, {"source": "key", "mode": "0440", "uid": "103"}]
    assert s["ulimits"] == {"nproc": 65535, "nofile": {"soft": 1, "hard": 2}}
    assert s["devices"] == [
        {"source": "/dev/ttyUSB0", "target": "/dev/ttyUSB0", "permissions": "rwm"},
        {"source": "/dev/a", "target": "/dev/b", "permissions": "r"},
    ]
    assert s["extra_hosts"] == ["otherhost=50.31.209.229", "h6=::1", "eq=1.2.3.4"]
    assert s["dns"] == ["8.8.8.8"] and s["tmpfs"] == ["/run"]
    assert s["expose"] == ["3000", "8000-8001"]


def test_file_mode_int_printed_octal():
    assert svc(configs=[{"source": "c", "mode": 0o440}])["configs"] == [{"source": "c", "mode": "0440"}]


def test_sizes_and_cpus():
    s = svc(mem_limit="512m", shm_size="1g", cpus="0.5",
            deploy={"resources": {"limits": {"cpus": "0.001", "memory": "50M"}},
                    "restart_policy": {"window": "120s"}, "update_config": {"monitor": "60s"}})
    assert (s["mem_limit"], s["shm_size"], s["cpus"]) == ("536870912", "1073741824", 0.5)
    assert s["deploy"]["resources"]["limits"] == {"cpus": 0.001, "memory": "52428800"}
    assert s["deploy"]["restart_policy"]["window"] == "2m0s"
    assert s["deploy"]["update_config"]["monitor"] == "1m0s"


def test_env_file_forms():
    assert svc(env_file=".env")["env_file"] == [{"path": "/proj/.env"}]
    assert svc(env_file=[{"path": "b.env", "required": False}])["env_file"] == [
        {"path": "/proj/b.env", "required": False}
    ]


def test_top_level_resources():
    out = canonicalize(
        {
            "networks": {"n": None, "ext": {"external": {"name": "real"}}, "o": {"driver_opts": {"mtu": 1500}}},
            "volumes": {"v": None, "lbl": {"labels": ["a=b"]}},
            "secrets": {"s": {"file": "./s.txt"}, "h": {"file": "~/h"}},
            "configs": {"c": {"external": True}},
        },
        working_dir=WD,
        home=HOME,
    )
    assert out["networks"] == {"n": {}, "ext": {"name": "real", "external": True}, "o": {"driver_opts": {"mtu": "1500"}}}
    assert out["volumes"] == {"v": {}, "lbl": {"labels": {"a": "b"}}}
    assert out["secrets"] == {"s": {"file": "/proj/s.txt"}, "h": {"file": "/home/me/h"}}
    assert out["configs"] == {"c": {"external": True}}


def test_input_is_not_modified():
    model = {"services": {"s": {"ports": ["80"], "environment": ["A=1"]}}}
    canonicalize(model, working_dir=WD, home=HOME)
    assert model == {"services": {"s": {"ports": ["80"], "environment": ["A=1"]}}}


def test_extensions_and_unknown_keys_kept():
    assert svc(**{"x-foo": {"a": 1}, "image": "redis"}) == {"x-foo": {"a": 1}, "image": "redis"}


def test_bad_file_mode_is_a_compose_error():
    with pytest.raises(ComposeError, match="invalid file mode '\\$theint'"):
        svc(secrets=[{"source": "s", "mode": "$theint"}])


def test_bind_backed_local_volume_device_and_blkio_rates():
    out = canonicalize(
        {"volumes": {"v": {"driver": "local", "driver_opts": {"type": "none", "o": "bind", "device": "./data"}}},
         "services": {"s": {"blkio_config": {"weight": 300, "device_read_bps": [{"path": "/dev/sda", "rate": "1mb"}]}}}},
        working_dir=WD,
        home=HOME,
    )
    assert out["volumes"]["v"]["driver_opts"]["device"] == "/proj/data"
    assert out["services"]["s"]["blkio_config"] == {
        "weight": 300, "device_read_bps": [{"path": "/dev/sda", "rate": "1048576"}]
    }


def test_extra_hosts_map_sorted_with_multiple_ips():
    assert svc(extra_hosts={"b": "1.1.1.1", "a": ["2.2.2.2", "::1"]})["extra_hosts"] == [
        "a=2.2.2.2", "a=::1", "b=1.1.1.1"
    ]
