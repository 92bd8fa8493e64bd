"""Progress rendering: plain lines, the redrawn TTY block, json and quiet modes."""

from __future__ import annotations

import io
import json

from orchestrator.cli.progress import Entry, Progress, consume, render_plain, render_tty, resolve_mode


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_mode_is_tty_only_on_a_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    assert resolve_mode("auto", io.StringIO()) == "plain"
    assert resolve_mode("auto", FakeTTY()) == "tty"
    assert resolve_mode("plain", FakeTTY()) == "plain"
    assert resolve_mode("json", io.StringIO()) == "json"
    monkeypatch.setenv("TERM", "dumb")
    assert resolve_mode("auto", FakeTTY()) == "plain"


def test_plain_line_names_kind_resource_and_status():
    assert render_plain({"id": "demo-web-1", "service": "web", "status": "Started"}) == \
        " Container demo-web-1  Started"
    assert render_plain({"id": "demo_default", "kind": "network", "status": "Created"}) == \
        " Network demo_default  Created"
    assert render_plain({"id": "volume demo_data", "service": "", "status": "Removed"}) == \
        " Volume demo_data  Removed"
    assert render_plain({"id": "demo-db-1", "service": "db", "status": "Error",
                         "message": "exited with code 1"}) == " Container demo-db-1  Error exited with code 1"


def test_tty_block_counts_done_and_aligns_columns():
    entries = [Entry("Network", "demo_frontend_net", "Created", started=0.0, ended=0.1),
               Entry("Container", "demo-web-1", "Starting", started=0.0),
               Entry("Container", "demo-db-1", "Error", "exit 1", started=0.0, ended=1.0)]
    lines = render_tty(entries, "Running", now=2.0)
    assert lines[0] == "[+] Running 2/3"
    assert lines[1].startswith(" ✔ Network demo_frontend_net  Created")
    assert lines[1].endswith("0.1s")
    assert lines[2].startswith(" ") and "Container demo-web-1       Starting" in lines[2]
    assert lines[2].endswith("2.0s") and lines[2][1] not in "✔✘"
    assert lines[3].startswith(" ✘ Container demo-db-1 ") and lines[3].endswith("exit 1")
    assert len({line.index("Created" if "Created" in line else "Starting" if "Starting" in line else "Error")
                for line in lines[1:]}) == 1


def test_tty_progress_redraws_in_place():
    out = FakeTTY()
    p = Progress("auto", out=out)
    p.update({"id": "demo-web-1", "service": "web", "status": "Creating"})
    p.update({"id": "demo-web-1", "service": "web", "status": "Started"})
    text = out.getvalue()
    assert "\x1b[2F" in text  # back over the header and the one line drawn before
    assert text.count("[+] Running") == 2 and "[+] Running 1/1" in text


def test_plain_progress_prints_each_change():
    out = io.StringIO()
    p = Progress("plain", out=out)
    for status in ("Creating", "Created", "Starting", "Started"):
        p.update({"id": "demo-web-1", "service": "web", "status": status})
    assert out.getvalue().splitlines() == [f" Container demo-web-1  {s}"
                                           for s in ("Creating", "Created", "Starting", "Started")]
    assert "\x1b" not in out.getvalue()


def test_json_and_quiet_modes():
    out = io.StringIO()
    Progress("json", out=out).update({"id": "x", "status": "Started"})
    assert json.loads(out.getvalue()) == {"id": "x", "status": "Started"}
    out = io.StringIO()
    Progress("quiet", out=out).update({"id": "x", "status": "Started"})
    assert out.getvalue() == ""


def test_consume_returns_the_result_line_or_a_failure_when_missing():
    out = io.StringIO()
    events = [{"type": "progress", "id": "a", "service": "a", "status": "Started"},
              {"type": "result", "ok": True, "exit_code": 0, "message": ""}]
    assert consume(iter(events), Progress("plain", out=out))["ok"] is True
    assert out.getvalue() == " Container a  Started\n"
    broken = consume(iter(events[:1]), Progress("quiet"))
    assert broken["ok"] is False and "ended the stream early" in broken["message"]


def test_a_service_wait_line_gives_way_to_its_containers():
    out = FakeTTY()
    p = Progress("tty", out=out)
    p.update({"id": "api", "service": "api", "status": "Waiting", "message": "waiting for cache"})
    p.update({"id": "demo-api-1", "service": "api", "status": "Creating"})
    p.update({"id": "demo-api-1", "service": "api", "status": "Started"})
    assert list(p.entries) == ["demo-api-1"]
    last = out.getvalue().rsplit("\x1b[2F", 1)[1]
    assert "[+] Running 1/1" in last and "Container api " not in last and last.endswith("\x1b[J")


def test_warnings_go_above_the_block():
    out = FakeTTY()
    p = Progress("tty", out=out)
    events = [{"type": "progress", "id": "demo-web-1", "service": "web", "status": "Creating"},
              {"type": "warning", "message": "found orphan containers ([demo-old-1])"},
              {"type": "result", "ok": True, "exit_code": 0}]
    assert consume(iter(events), p)["ok"]
    text = out.getvalue()
    assert "\x1b[2F\x1b[JWARN[0000] found orphan containers ([demo-old-1])\n" in text
    plain = io.StringIO()
    consume(iter(events), Progress("plain", out=plain))
    assert plain.getvalue().splitlines()[1] == "WARN[0000] found orphan containers ([demo-old-1])"
