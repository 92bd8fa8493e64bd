"""`shoal ps`: compose's table, JSON Lines fields, -q, --services, --status, -a."""

from __future__ import annotations

import json

from fakedaemon import container
from orchestrator.cli.ps_cmd import JSON_FIELDS, format_command, format_ports


def test_table_has_compose_columns_and_rows_sorted_by_name(cli, fake):
    fake.containers["demo"].reverse()
    r = cli("ps")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert [line.split()[0] for line in lines[1:]] == ["demo-db-1", "demo-web-1", "demo-web-2"]
    assert lines[0].index("SERVICE") == lines[2].index("   web   ") + 3
    req = fake.calls("GET", "/projects/demo/containers")[-1]
    assert "all" not in req.query


def test_json_is_json_lines_with_exactly_compose_fields(cli):
    r = cli("ps", "--format", "json")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert tuple(row) == JSON_FIELDS
        assert isinstance(row["Publishers"], list) and isinstance(row["ExitCode"], int)
        assert isinstance(row["Labels"], str)
    assert rows[1]["Name"] == "demo-web-1" and rows[1]["Service"] == "web" and rows[1]["State"] == "running"


def test_json_labels_dict_is_joined_like_compose(cli, fake):
    fake.containers["demo"] = [container("demo", "db", 1, Labels={"b": "2", "a": "1"})]
    row = json.loads(cli("ps", "--format", "json").stdout)
    assert row["Labels"] == "a=1,b=2"


def test_quiet_prints_short_ids_and_services_prints_names_once(cli, fake):
    ids = cli("ps", "-q").stdout.split()
    by_name = sorted(fake.containers["demo"], key=lambda r: r["Name"])
    assert ids == [r["ID"][:12] for r in by_name]
    assert all(len(i) == 12 for i in ids)
    assert cli("ps", "--services").stdout == "db\nweb\n"


def test_status_filter_asks_for_all_and_keeps_matching(cli, fake):
    fake.containers["demo"].append(container("demo", "job", 1, state="exited"))
    r = cli("ps", "--status", "exited")
    assert [line.split()[0] for line in r.stdout.splitlines()[1:]] == ["demo-job-1"]
    assert fake.calls("GET", "/projects/demo/containers")[-1].query["all"] == "1"
    assert cli("ps").stdout.count("demo-job-1") == 0
    assert cli("ps", "-a").stdout.count("demo-job-1") == 1


def test_invalid_status_is_a_one_line_error(cli):
    r = cli("ps", "--status", "sleeping")
    assert r.returncode == 1 and "invalid status 'sleeping'" in r.stderr


def test_services_argument_is_sent_to_the_daemon(cli, fake):
    r = cli("ps", "web")
    assert fake.calls("GET", "/projects/demo/containers")[-1].query["services"] == "web"
    assert "demo-db-1" not in r.stdout


def test_template_format_and_project_name_flag(cli, fake):
    fake.containers["other"] = [container("other", "x", 1)]
    r = cli("-p", "other", "ps", "--format", "{{.Name}} {{.State}}", files=False)
    assert r.stdout == "other-x-1 running\n"


def test_command_and_ports_cells():
    assert format_command("sh -c 'echo hello world'") == '"sh -c \'echo hello w…"'
    assert format_command("sleep 1") == '"sleep 1"'
    row = {"Publishers": [{"URL": "127.0.0.1", "TargetPort": 80, "PublishedPort": 8088, "Protocol": "tcp"},
                          {"URL": "", "TargetPort": 53, "PublishedPort": 0, "Protocol": "udp"}]}
    assert format_ports(row) == "127.0.0.1:8088->80/tcp, 53/udp"
