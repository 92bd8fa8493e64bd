"""`shoal logs` and the log prefixes shared with attached `up`."""

from __future__ import annotations

import io

from orchestrator.cli.logs_cmd import COLORS, LogPrinter, display_name


def entry(service, number, line, **kw):
    return dict(container=f"demo-{service}-{number}", service=service, number=number, line=line, **kw)


def test_prefix_is_service_n_padded_to_the_widest_name():
    p = LogPrinter(["db-1", "worker-12"])
    assert p.format(entry("db", 1, "ready")) == "db-1       | ready"
    assert p.format(entry("worker", 12, "go\n")) == "worker-12  | go"


def test_colours_are_stable_per_container_and_distinct():
    p = LogPrinter(["db-1", "web-1"], color=True)
    a1 = p.format(entry("db", 1, "x"))
    b1 = p.format(entry("web", 1, "y"))
    a2 = p.format(entry("db", 1, "z"))
    assert a1.startswith(f"\x1b[{COLORS[0]}m") and b1.startswith(f"\x1b[{COLORS[1]}m")
    assert a2.startswith(f"\x1b[{COLORS[0]}m")
    assert a1.endswith("\x1b[0mx") and "db-1   | " in a1


def test_no_prefix_and_timestamps():
    p = LogPrinter(["db-1"], prefix=False, timestamps=True)
    assert p.format(entry("db", 1, "hi", time="2026-11-21T15:04:05.000000Z")) == \
        "2026-11-21T15:04:05.000000Z hi"


def test_display_name_falls_back_to_container_name_without_project():
    assert display_name({"container": "demo-web-run-1a2b", "service": "web"}, "demo") == "web-run-1a2b"
    assert display_name({"service": "web", "number": 3}) == "web-3"


def test_logs_command_prefixes_and_passes_flags(cli, fake):
    fake.logs = [entry("db", 1, "db up"), entry("web", 2, "GET /")]
    r = cli("logs", "--tail", "5", "--since", "10m", "web", "db")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["db-1   | db up", "web-2  | GET /"]
    q = fake.calls("GET", "/projects/demo/logs")[-1].query
    assert q == {"services": "web,db", "since": "10m", "tail": "5"}


def test_logs_follow_timestamps_no_prefix(cli, fake):
    fake.logs = [entry("db", 1, "a", time="T1")]
    r = cli("logs", "-f", "-t", "--no-log-prefix", "--no-color")
    assert r.stdout == "T1 a\n"
    q = fake.calls("GET", "/projects/demo/logs")[-1].query
    assert q["follow"] == "1" and q["timestamps"] == "1" and "tail" not in q


def test_notice_is_coloured_like_its_logs():
    out = io.StringIO()
    p = LogPrinter(["web-1"], color=True, out=out)
    p.print(entry("web", 1, "x"))
    p.notice("web-1", "exited with code 0")
    assert out.getvalue().splitlines()[1] == f"\x1b[{COLORS[0]}mweb-1 exited with code 0\x1b[0m"


def test_logs_index_picks_one_replica_and_tail_is_checked(cli, fake):
    fake.logs = [entry("web", 1, "one"), entry("web", 2, "two")]
    assert cli("logs", "--index", "2", "web").stdout == "web-2  | two\n"
    r = cli("logs", "--tail", "ten")
    assert r.returncode == 1 and "invalid --tail 'ten'" in r.stderr


def test_followers_resume_after_a_restart_without_repeating_lines(fake):
    import time

    from orchestrator.cli.client import Client
    from orchestrator.cli.logs_cmd import Followers
    cid = fake.containers["demo"][1]["ID"]
    fake.logs = [entry("web", 1, "a", time="2026-01-01T00:00:01Z"), entry("web", 1, "b", time="2026-01-01T00:00:02Z")]
    fake.inspect[cid] = {"id": cid, "state": "running"}
    got = []
    f = Followers(Client(fake.socket, autostart=False), got.append, poll=0.05)
    f.follow(cid, "web", 1, "demo-web-1", "2026-01-01T00:00:00Z")
    f.follow(cid, "web", 1, "demo-web-1", "2026-01-01T00:00:00Z")  # once per container
    time.sleep(0.5)
    assert [g["line"] for g in got] == ["a", "b"]
    fake.logs.append(entry("web", 1, "c", time="2026-01-01T00:00:03Z"))  # the container ran again
    time.sleep(0.5)
    fake.inspect[cid] = {"id": cid, "state": "exited"}
    time.sleep(0.3)
    f.close()
    assert [g["line"] for g in got] == ["a", "b", "c"]
    assert got[0]["service"] == "web" and got[0]["number"] == 1 and got[0]["container"] == "demo-web-1"
    streams = fake.calls("GET", f"/containers/{cid}/logs")
    assert streams[0].query["since"] == "2026-01-01T00:00:00Z"
    assert streams[-1].query["since"] == "2026-01-01T00:00:03Z"
