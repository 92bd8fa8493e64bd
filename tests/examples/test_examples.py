"""Every stack in examples/compose loads with `shoal config`; the Debian-based ones build and
run end to end with the real CLI when SHOAL_SLOW_TESTS=1 (they need root, the bootstrapped
debian:bookworm-slim image and a reachable Debian mirror for apt inside the builds).

SHOAL_CLI overrides the command under test (default: this checkout's CLI module).
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import subprocess
import sys

import pytest

from engine.build.dockerfile import parse as parse_dockerfile

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "compose"
COMPOSE_FILES = sorted(EXAMPLES.glob("*/compose.yaml"))
DEBIAN_EXAMPLES = ("ml-serving", "webapp-postgres")


def shoal_command() -> list[str]:
    """The shoal CLI to drive: $SHOAL_CLI or ``python -m orchestrator.cli.main`` of this checkout."""
    return shlex.split(os.environ.get("SHOAL_CLI", "")) or [sys.executable, "-m", "orchestrator.cli.main"]


def shoal(*args: str, cwd: pathlib.Path, env: dict[str, str] | None = None,
          timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run the CLI like a user in ``cwd``; on failure the assertion shows its stderr."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run([*shoal_command(), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"shoal {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def config(example: str, env: dict[str, str] | None = None) -> dict:
    """The normalised model of one example, as `shoal config --format json` prints it."""
    return json.loads(shoal("config", "--format", "json", cwd=EXAMPLES / example, env=env).stdout)


def test_examples_are_found():
    names = {p.parent.name for p in COMPOSE_FILES}
    assert {"quickstart", *DEBIAN_EXAMPLES} <= names


@pytest.mark.parametrize("compose", COMPOSE_FILES, ids=lambda p: p.parent.name)
def test_every_example_loads(compose):
    """`shoal config` accepts the file with no warning, and every long-running service is health-checked."""
    proc = shoal("config", "--format", "json", cwd=compose.parent)
    assert proc.stderr.strip() == ""
    model = json.loads(proc.stdout)
    assert model["name"] == compose.parent.name
    for name, svc in model["services"].items():
        assert svc.get("image") or svc.get("build"), f"{name}: neither image nor build"
        if svc.get("restart") not in ("no", None):
            assert svc.get("healthcheck", {}).get("test"), f"{name}: long-running without a health check"


@pytest.mark.parametrize("compose", COMPOSE_FILES, ids=lambda p: p.parent.name)
def test_built_images_start_from_a_bootstrappable_base(compose):
    """Each build's Dockerfile parses, and starts FROM debian:bookworm-slim or one of its own stages."""
    model = config(compose.parent.name)
    for name, svc in model["services"].items():
        if not svc.get("build"):
            continue
        build = svc["build"]
        dockerfile = pathlib.Path(build["context"]) / build.get("dockerfile", "Dockerfile")
        parsed = parse_dockerfile(dockerfile.read_text(), str(dockerfile))
        stages: list[str] = []
        for ins in parsed.instructions:
            if ins.cmd == "FROM":
                words = ins.args.split()
                assert words[0] in ("debian:bookworm-slim", *stages), f"{name}: FROM {words[0]}"
                stages.append(words[-1] if len(words) == 3 and words[1].upper() == "AS" else words[0])
        if build.get("target"):
            assert build["target"] in stages, f"{name}: no stage {build['target']!r}"
        assert (pathlib.Path(build["context"]) / ".dockerignore").is_file(), f"{name}: no .dockerignore"


def test_ml_serving_declares_what_its_readme_shows():
    services = config("ml-serving")["services"]
    api = services["model-api"]
    assert api["deploy"]["replicas"] == 3
    assert [(p["host_ip"], p["published"], p["target"]) for p in api["ports"]] == [("127.0.0.1", "8000", 8000)]
    assert {k: v["condition"] for k, v in api["depends_on"].items()} == {
        "train": "service_completed_successfully", "cache": "service_healthy"}
    assert services["train"]["restart"] == "no"
    mounts = {s: [(v["source"], v["target"], v.get("read_only", False)) for v in services[s]["volumes"]]
              for s in ("train", "model-api")}
    assert mounts == {"train": [("models", "/models", False)], "model-api": [("models", "/models", True)]}
    assert "redis-cli ping" in services["cache"]["healthcheck"]["test"][1]


def test_ml_serving_ports_and_seed_come_from_the_environment():
    services = config("ml-serving", env={"API_PORT": "18123", "SEED": "7"})["services"]
    assert services["model-api"]["ports"][0]["published"] == "18123"
    assert services["train"]["environment"]["SEED"] == "7"


def test_webapp_postgres_env_file_secrets_and_order():
    model = config("webapp-postgres", env={"APP_TITLE": ""})
    services = model["services"]
    # .env supplies the defaults; an empty variable in the shell falls back to the ${VAR:-default}
    assert services["db"]["environment"]["POSTGRES_DB"] == "notes"
    assert services["app"]["environment"]["APP_TITLE"] == "Notes"
    assert services["db"]["build"]["args"] == {"PG_MAJOR": "15"}
    assert config("webapp-postgres", env={"APP_TITLE": "Ops"})["services"]["app"]["environment"]["APP_TITLE"] == "Ops"
    secret = pathlib.Path(model["secrets"]["db_password"]["file"])
    assert secret.is_file() and secret.read_text().strip()
    for name in ("db", "migrate", "app"):
        assert [s["source"] for s in services[name]["secrets"]] == ["db_password"]
        assert "PASSWORD" not in " ".join(k for k in services[name].get("environment", {})
                                          if not k.endswith("_FILE"))
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "pg_isready" in services["db"]["healthcheck"]["test"][1]
    assert services["migrate"]["image"] == services["app"]["image"]
