"""`shoal down`: the request it sends, with and without a compose file."""

from __future__ import annotations


def test_down_sends_compose_flags(cli, fake):
    assert cli("down", "-v", "--remove-orphans", "--rmi", "local", "-t", "0").returncode == 0
    assert fake.calls("POST", "/projects/demo/down")[-1].body == {
        "remove_volumes": True, "remove_orphans": True, "rmi": "local", "timeout": 0}
    cli("down")
    assert fake.calls("POST", "/projects/demo/down")[-1].body == {
        "remove_volumes": False, "remove_orphans": False, "rmi": ""}


def test_down_by_project_name_needs_no_compose_file(cli, fake, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("-p", "Other", "down", files=False).returncode == 0
    assert fake.calls("POST", "/projects/other/down")
