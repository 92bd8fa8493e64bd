"""De-duplication of merged sequences: compose-go's unicity pairs and each key rule."""

from __future__ import annotations

import os
import pathlib

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.parse import parse_yaml
from orchestrator.compose.unicity import enforce_unicity, unicity_key

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("SHOAL_SHARED", REPO.parent / "shared"))
UNCITY = SHARED / "conformance" / "compose-go" / "go-test-snippets" / "override" / "uncity"


def _pairs() -> list:
    if not UNCITY.is_dir():
        return []
    return [
        pytest.param(next(d.glob("*-arg0.yaml")), next(d.glob("*-arg1.yaml")), id=d.name)
        for d in sorted(UNCITY.iterdir())
    ]


def _load(path: pathlib.Path):
    return parse_yaml(path.read_text(), str(path))[0].data


def test_conformance_pairs_found():
    if not UNCITY.is_dir():
        pytest.skip(f"conformance data not found at {UNCITY}")
    assert len(_pairs()) == 4


@pytest.mark.parametrize("given,expected", _pairs())
def test_unicity_pair(given, expected):
    assert enforce_unicity(_load(given)) == _load(expected)


def _svc(**fields) -> dict:
    return enforce_unicity({"services": {"s": fields}})["services"]["s"]


def test_secrets_and_configs_keyed_by_target_with_defaults():
    out = _svc(
        secrets=["a", {"source": "b", "target": "/run/secrets/a"}, "c"],
        configs=["x", {"source": "y", "target": "/x"}, {"source": "z"}],
    )
    assert out["secrets"] == [{"source": "b", "target": "/run/secrets/a"}, "c"]
    assert out["configs"] == [{"source": "y", "target": "/x"}, {"source": "z"}]


def test_devices_keyed_by_container_path():
    out = _svc(devices=["/dev/sda:/dev/xvda:rwm", "/dev/sdb:/dev/xvda", "/dev/null"])
    assert out["devices"] == ["/dev/sdb:/dev/xvda", "/dev/null"]


def test_env_file_expose_caps_profiles_tmpfs():
    out = _svc(
        env_file=["a.env", {"path": "a.env", "required": False}, "b.env"],
        expose=[3000, "3000", "4000"],
        cap_add=["NET_ADMIN", "SYS_TIME", "NET_ADMIN"],
        profiles=["dev", "dev"],
        tmpfs=["/run", "/tmp", "/run"],
    )
    assert out["env_file"] == [{"path": "a.env", "required": False}, "b.env"]
    assert out["expose"] == ["3000", "4000"]
    assert out["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert out["profiles"] == ["dev"]
    assert out["tmpfs"] == ["/run", "/tmp"]


def test_network_aliases_and_volume_long_syntax():
    out = _svc(
        networks={"front": {"aliases": ["a", "b", "a"]}},
        volumes=["data:/data", {"type": "volume", "source": "other", "target": "/data"}, "/anon"],
    )
    assert out["networks"]["front"]["aliases"] == ["a", "b"]
    assert out["volumes"] == [{"type": "volume", "source": "other", "target": "/data"}, "/anon"]


def test_unlisted_sequences_keep_duplicates():
    out = _svc(command=["echo", "echo"], extra_hosts=["a=1", "a=1"])
    assert out["command"] == ["echo", "echo"]
    assert out["extra_hosts"] == ["a=1", "a=1"]


def test_long_port_without_target_is_an_error():
    with pytest.raises(ComposeError, match="missing a target port"):
        _svc(ports=[{"published": "80"}])


def test_volume_without_target_is_an_error():
    with pytest.raises(ComposeError, match="missing a mount target"):
        _svc(volumes=[{"type": "bind", "source": "/x"}])


def test_unicity_key_lookup_for_other_modules():
    assert unicity_key(("services", "web", "ports"), {"target": 80, "published": 8080}) == "0.0.0.0:8080:80/tcp"
    assert unicity_key(("services", "web", "volumes"), "C:\\data:/data") == "/data"
    assert unicity_key(("services", "web", "command"), "x") is None


def test_input_is_not_modified():
    model = {"services": {"s": {"dns": ["1.1.1.1", "1.1.1.1"]}}}
    enforce_unicity(model)
    assert model["services"]["s"]["dns"] == ["1.1.1.1", "1.1.1.1"]


def test_error_position_from_locator():
    doc = parse_yaml("services:\n  s:\n    ports:\n      - 80\n      - published: 8\n", "c.yaml")[0]
    with pytest.raises(ComposeError) as err:
        enforce_unicity(doc.data, pos=doc.pos)
    assert str(err.value).startswith("c.yaml:5:9: service ports services.s.ports[1] is missing a target port")
