"""Named volumes: Docker's layout and name rules, idempotent create, atomic metadata, prune."""

from __future__ import annotations

import json
import os

import pytest

from engine.volumes import VolumeError, VolumeInUse, VolumeNotFound, VolumeStore


@pytest.fixture
def store(tmp_path):
    return VolumeStore(str(tmp_path))


def test_create_makes_the_data_dir_docker_style(store, tmp_path):
    vol = store.create("proj_data", labels={"com.docker.compose.project": "proj"})
    assert vol.mountpoint == store.path("proj_data") == str(tmp_path / "volumes" / "proj_data" / "_data")
    assert os.path.isdir(vol.mountpoint)
    assert vol.to_json()["Labels"] == {"com.docker.compose.project": "proj"}
    assert vol.to_json()["Driver"] == "local" and vol.to_json()["Scope"] == "local"


def test_create_is_idempotent_and_keeps_data(store):
    first = store.create("db", driver_opts={"type": "none"})
    with open(os.path.join(first.mountpoint, "f"), "w") as f:
        f.write("kept")
    again = store.create("db")
    assert again == first
    assert open(os.path.join(again.mountpoint, "f")).read() == "kept"
    with pytest.raises(VolumeError, match="different driver options"):
        store.create("db", driver_opts={"type": "tmpfs"})


@pytest.mark.parametrize("bad", ["a", "-x", ".hidden", "a/b", "../etc", "sp ace", "", "é"])
def test_invalid_names(store, bad):
    with pytest.raises(VolumeError):
        store.create(bad)


@pytest.mark.parametrize("good", ["ab", "a.b", "A_b-9", "9lives"])
def test_valid_names(store, good):
    assert store.create(good).name == good


def test_get_list_remove(store):
    store.create("b1")
    store.create("a1")
    assert [v.name for v in store.list()] == ["a1", "b1"]
    assert store.get("a1").name == "a1"
    store.remove("a1")
    assert [v.name for v in store.list()] == ["b1"]
    with pytest.raises(VolumeNotFound):
        store.get("a1")
    with pytest.raises(VolumeNotFound):
        store.remove("a1")
    store.remove("a1", force=True)  # no error


def test_in_use_volume_needs_force(store):
    store.create("v1")
    with pytest.raises(VolumeInUse):
        store.remove("v1", in_use=["v1"])
    store.remove("v1", force=True, in_use=["v1"])
    assert store.list() == []


def test_prune_keeps_named_volumes(store):
    for n in ("keep1", "drop1", "drop2"):
        store.create(n)
    assert sorted(store.prune(keep=["keep1"])) == ["drop1", "drop2"]
    assert [v.name for v in store.list()] == ["keep1"]


def test_metadata_is_json_and_no_temp_files_remain(store, tmp_path):
    store.create("v1", labels={"k": "v"})
    vdir = tmp_path / "volumes" / "v1"
    assert sorted(os.listdir(vdir)) == ["_data", "meta.json"]
    assert json.loads((vdir / "meta.json").read_text())["labels"] == {"k": "v"}


def test_half_made_volume_without_metadata_is_not_listed(store, tmp_path):
    os.makedirs(tmp_path / "volumes" / "ghost" / "_data")
    assert store.list() == []
    assert store.create("ghost").name == "ghost"  # create completes it


def test_corrupt_metadata_is_reported(store, tmp_path):
    store.create("v1")
    (tmp_path / "volumes" / "v1" / "meta.json").write_text("{")
    with pytest.raises(VolumeError, match="corrupt"):
        store.get("v1")
