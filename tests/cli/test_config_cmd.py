"""`shoal config` end to end: the real CLI in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (REPO / "examples" / "compose").glob("*/compose.yaml"))


def shoal(*args, cwd=None, env=None, stdin=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=cwd,
                          env=full_env, input=stdin, capture_output=True, text=True, timeout=60)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_example_loads(example):
    out = shoal("-f", str(example), "config")
    assert out.returncode == 0, out.stderr
    model = yaml.safe_load(out.stdout)
    assert model["services"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_config_output_reads_back_to_the_same_output(example, tmp_path):
    first = shoal("-f", str(example), "config")
    assert first.returncode == 0, first.stderr
    again = write(tmp_path, "compose.yaml", first.stdout)
    second = shoal("-f", str(again), "--project-directory", str(example.parent), "config")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_quickstart_shape():
    out = shoal("-f", str(REPO / "examples/compose/quickstart/compose.yaml"), "config",
                "--format", "json", env={"LOG_LEVEL": "debug"})
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)
    assert model["name"] == "quickstart"
    web = model["services"]["web"]
    assert web["deploy"]["replicas"] == 3
    assert web["ports"][0]["published"] == "8088" and web["ports"][0]["target"] == 80
    assert model["services"]["api"]["environment"]["LOG_LEVEL"] == "debug"
    assert model["services"]["api"]["depends_on"]["cache"]["condition"] == "service_healthy"
    assert model["volumes"]["appdata"]["name"] == "quickstart_appdata"
    assert "quickstart_default" == model["networks"]["default"]["name"]


def test_services_volumes_and_quiet():
    f = str(REPO / "examples/compose/quickstart/compose.yaml")
    assert shoal("-f", f, "config", "--services").stdout.split() == ["cache", "migrate", "api", "web"] \
        or sorted(shoal("-f", f, "config", "--services").stdout.split()) == ["api", "cache", "migrate", "web"]
    assert shoal("-f", f, "config", "--volumes").stdout.split() == ["appdata"]
    quiet = shoal("-f", f, "config", "-q")
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_stdin_and_override_files(tmp_path):
    base = "services:\n  web:\n    image: busybox\n    environment: [A=1, B=2]\n"
    over = write(tmp_path, "over.yaml", "services:\n  web:\n    environment:\n      B: three\n")
    out = shoal("-p", "demo", "-f", "-", "-f", str(over), "config", "--format", "json",
                cwd=tmp_path, stdin=base)
    assert out.returncode == 0, out.stderr
    env = json.loads(out.stdout)["services"]["web"]["environment"]
    assert env == {"A": "1", "B": "three"}


def test_discovery_env_file_and_yaml12(tmp_path):
    write(tmp_path, "compose.yaml",
          "services:\n  app:\n    image: ${IMAGE}\n    ports: [22:22]\n    environment:\n      FLAG: no\n")
    write(tmp_path, ".env", "IMAGE=busybox:1.36\n")
    out = shoal("config", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    svc = json.loads(out.stdout)["services"]["app"]
    assert svc["image"] == "busybox:1.36"
    assert svc["ports"][0]["target"] == 22          # `22:22` is a port string, not 1342
    assert svc["environment"]["FLAG"] == "no"       # `no` stays a string


BAD_FILES = {
    "unknown-key": ("services:\n  web:\n    imgae: busybox\n", r"compose.yaml:3:5: .*imgae"),
    "wrong-type": ("services:\n  web:\n    image: busybox\n    ports: {a: 1}\n", r"compose.yaml:4:\d+: "),
    "required-var": ("services:\n  web:\n    image: ${TAG:?set TAG first}\n", r"compose.yaml:3:\d+: .*set TAG first"),
    "bad-yaml": ("services:\n  web:\n    image: [busybox\n", r"compose.yaml:\d+:\d+: invalid YAML"),
    "duplicate-key": ("services:\n  web:\n    image: a\n    image: b\n", r"compose.yaml:4:5: .*already defined"),
    "undefined-volume": ("services:\n  web:\n    image: busybox\n    volumes: [data:/data]\n",
                         r"compose.yaml:4:\d+: .*undefined volume"),
    "cycle": ("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
              r"compose.yaml(:\d+:\d+)?: .*cycle"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_input_is_one_positioned_line_and_exit_1(tmp_path, name):
    text, pattern = BAD_FILES[name]
    write(tmp_path, "compose.yaml", text)
    out = shoal("config", cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if not line.startswith("WARN")]
    assert len(lines) == 1, out.stderr
    import re
    assert re.search(pattern, lines[0]), lines[0]


def test_missing_file_and_unreadable_env_file(tmp_path):
    out = shoal("-f", "nope.yaml", "config", cwd=tmp_path)
    assert out.returncode == 1 and "no such file" in out.stderr and "Traceback" not in out.stderr
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: busybox\n")
    out = shoal("--env-file", "missing.env", "config", cwd=tmp_path)
    assert out.returncode == 1 and "missing.env" in out.stderr and "Traceback" not in out.stderr


def test_debug_shows_traceback(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web:\n    imgae: busybox\n")
    out = shoal("--debug", "config", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" in out.stderr


def test_profiles_listing_and_activation(tmp_path):
    write(tmp_path, "compose.yaml",
          "services:\n  web:\n    image: a\n  debug:\n    image: b\n    profiles: [dev]\n")
    assert shoal("config", "--profiles", cwd=tmp_path).stdout.split() == ["dev"]
    assert shoal("config", "--services", cwd=tmp_path).stdout.split() == ["web"]
    both = shoal("--profile", "dev", "config", "--services", cwd=tmp_path).stdout.split()
    assert sorted(both) == ["debug", "web"]
    via_env = shoal("config", "--services", cwd=tmp_path, env={"COMPOSE_PROFILES": "dev"})
    assert sorted(via_env.stdout.split()) == ["debug", "web"]


def test_include_and_extends_from_other_directories(tmp_path):
    write(tmp_path, "lib/base.yaml",
          "services:\n  base:\n    image: busybox\n    env_file: base.env\n    volumes: [./data:/data]\n")
    write(tmp_path, "lib/base.env", "FROM_BASE=1\n")
    write(tmp_path, "sub/compose.yaml",
          "services:\n  db:\n    extends: {file: ../lib/base.yaml, service: base}\n    image: postgres\n")
    write(tmp_path, "compose.yaml",
          "include: [sub/compose.yaml]\nservices:\n  web:\n    image: busybox\n    depends_on: [db]\n")
    out = shoal("config", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)
    db = model["services"]["db"]
    assert db["image"] == "postgres"
    assert db["environment"] == {"FROM_BASE": "1"}
    assert db["volumes"][0]["source"] == str(tmp_path / "lib" / "data")
