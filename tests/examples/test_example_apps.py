"""The example stacks' own Python code, run on the host: the churn model, the RESP client,
the prediction cache, the migration planner and the notes page (no containers needed)."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import socket
import sys
import threading

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "compose"
ML = EXAMPLES / "ml-serving"
WEBAPP = EXAMPLES / "webapp-postgres"

CUSTOMER = {"tenure_months": 3, "monthly_charges": 95.5, "support_calls": 4, "paperless_billing": 1,
            "contract": "month-to-month"}
LOYAL = {"tenure_months": 60, "monthly_charges": 40, "support_calls": 0, "paperless_billing": 0,
         "contract": "two-year"}


def _load(path: pathlib.Path, name: str):
    """Import one example file under a private module name (they are not a package of shoal)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ml():
    """The ml-serving modules, importable the way the images lay them out under /app."""
    paths, names = [str(ML), str(ML / "api")], ("churn", "churn.model", "resp", "ex_train", "ex_serve")
    sys.path[:0] = paths
    try:
        yield {"model": importlib.import_module("churn.model"), "resp": importlib.import_module("resp"),
               "train": _load(ML / "train" / "train.py", "ex_train"),
               "serve": _load(ML / "api" / "serve.py", "ex_serve")}
    finally:
        for path in paths:
            sys.path.remove(path)
        for name in names:
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def trained(ml):
    """One small model fitted the way the train job does (seed 42), shared by the module."""
    return ml["train"].fit(1500, 42, 150)


def test_training_recovers_the_churn_rule(trained):
    model, train_acc, test_acc = trained
    assert train_acc > 0.75 and test_acc > 0.72
    assert model.probability(CUSTOMER) > 0.8          # new, unhappy, month-to-month
    assert model.probability(LOYAL) < 0.1             # long two-year contract, no complaints


def test_training_is_reproducible_from_the_seed(ml):
    first, _, _ = ml["train"].fit(400, 7, 30)
    again, _, _ = ml["train"].fit(400, 7, 30)
    other, _, _ = ml["train"].fit(400, 8, 30)
    assert first.weights == again.weights and first.bias == again.bias
    assert first.weights != other.weights


def test_model_file_round_trips_and_refuses_other_columns(ml, trained, tmp_path):
    model = trained[0]
    model.metadata = {"version": "test"}
    path = ml["train"].write_model(model, str(tmp_path))
    doc = json.loads(pathlib.Path(path).read_text())
    loaded = ml["model"].Model.from_json(doc)
    assert loaded.probability(CUSTOMER) == pytest.approx(model.probability(CUSTOMER))
    assert oct(pathlib.Path(path).stat().st_mode & 0o777) == "0o644"  # readable by the API's user
    doc["columns"] = doc["columns"][:-1]
    with pytest.raises(ValueError, match="columns"):
        ml["model"].Model.from_json(doc)


@pytest.mark.parametrize("patch, message", [
    ({"tenure_months": "3"}, "'tenure_months' must be a number"),
    ({"support_calls": True}, "'support_calls' must be a number"),
    ({"monthly_charges": -1}, "'monthly_charges' must be between"),
    ({"contract": "lifetime"}, "'contract' must be one of"),
])
def test_bad_features_are_named(ml, patch, message):
    with pytest.raises(ml["model"].FeatureError, match=message):
        ml["model"].encode({**CUSTOMER, **patch})


class FakeRedis:
    """A tiny RESP server on 127.0.0.1 with GET/SET/PING, counting the commands it saw."""

    def __init__(self, resp) -> None:
        self.resp, self.data, self.seen = resp, {}, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as stream:
                args = [a.decode() for a in self.resp.read_reply(stream)]
                self.seen.append(args)
                conn.sendall(self._answer(args))

    def _answer(self, args: list[str]) -> bytes:
        cmd = args[0].upper()
        if cmd == "PING":
            return b"+PONG\r\n"
        if cmd == "SET":
            self.data[args[1]] = args[2].encode()
            return b"+OK\r\n"
        if cmd == "GET":
            value = self.data.get(args[1])
            return b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)
        return b"-ERR unknown command '%s'\r\n" % cmd.encode()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(2)


@pytest.fixture()
def fake_redis(ml):
    server = FakeRedis(ml["resp"])
    yield server
    server.close()


def test_resp_client_speaks_redis_protocol(ml, fake_redis):
    client = ml["resp"].Redis("127.0.0.1", fake_redis.port)
    assert client.call("PING") == "PONG"
    assert client.call("GET", "missing") is None
    assert client.call("SET", "k", "v w", "EX", 60) == "OK"
    assert client.call("GET", "k") == b"v w"
    assert fake_redis.seen[2] == ["SET", "k", "v w", "EX", "60"]
    with pytest.raises(ml["resp"].RedisError, match="unknown command"):
        client.call("FLUSHALL")


def test_resp_encoding_and_nested_replies(ml):
    import io
    resp = ml["resp"]
    assert resp.encode_command("GET", "ké") == b"*2\r\n$3\r\nGET\r\n$3\r\nk\xc3\xa9\r\n"
    reply = resp.read_reply(io.BytesIO(b"*3\r\n:7\r\n$-1\r\n*1\r\n+OK\r\n"))
    assert reply == [7, None, ["OK"]]
    with pytest.raises(resp.RedisError, match="closed"):
        resp.read_reply(io.BytesIO(b"$10\r\nshort\r\n"))


def test_unreachable_redis_is_an_error_not_a_hang(ml):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # bound, never listening: connection refused
        with pytest.raises(ml["resp"].RedisError, match=f"127.0.0.1:{port}"):
            ml["resp"].Redis("127.0.0.1", port, timeout=0.5).call("PING")


def _predictor(ml, trained, tmp_path, redis):
    model = trained[0]
    model.metadata = {"version": "v-test"}
    path = ml["train"].write_model(model, str(tmp_path))
    return ml["serve"].Predictor(ml["serve"].ModelFile(path), redis, log=lambda _m: None)


def test_second_identical_prediction_comes_from_the_cache(ml, trained, tmp_path, fake_redis):
    predictor = _predictor(ml, trained, tmp_path, ml["resp"].Redis("127.0.0.1", fake_redis.port))
    first = predictor.predict(dict(CUSTOMER))
    second = predictor.predict(dict(reversed(list(CUSTOMER.items()))))  # same features, other key order
    assert first["cached"] is False and second["cached"] is True
    assert first["churn_probability"] == second["churn_probability"] > 0.8
    assert first["will_churn"] is True and first["model_version"] == "v-test"
    assert first["replica"] == socket.gethostname()
    assert len(fake_redis.data) == 1 and next(iter(fake_redis.data)).startswith("churn:v-test:")


def test_predictions_still_served_when_the_cache_is_down(ml, trained, tmp_path):
    predictor = _predictor(ml, trained, tmp_path, ml["resp"].Redis("127.0.0.1", 1, timeout=0.2))
    answer = predictor.predict(dict(LOYAL))
    assert answer["cached"] is False and answer["will_churn"] is False


def test_api_over_http(ml, trained, tmp_path, fake_redis):
    """POST /predict, GET /healthz and a 400 naming the field, through the real handler."""
    import urllib.error
    import urllib.request
    from http.server import ThreadingHTTPServer
    predictor = _predictor(ml, trained, tmp_path, ml["resp"].Redis("127.0.0.1", fake_redis.port))
    server = ThreadingHTTPServer(("127.0.0.1", 0), ml["serve"].make_handler(predictor))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        health = json.load(urllib.request.urlopen(base + "/healthz", timeout=5))
        assert health["status"] == "ok"
        req = urllib.request.Request(base + "/predict", data=json.dumps(LOYAL).encode(), method="POST")
        assert json.load(urllib.request.urlopen(req, timeout=5))["churn_probability"] < 0.1
        bad = urllib.request.Request(base + "/predict", data=b'{"tenure_months": -1}', method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=5)
        assert err.value.code == 400 and "tenure_months" in json.load(err.value)["error"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)


# --- webapp-postgres -------------------------------------------------------------------------

@pytest.fixture()
def migrate():
    return _load(WEBAPP / "app" / "migrate.py", "ex_migrate")


def test_migrations_are_ordered_and_applied_once(migrate):
    migrations = migrate.load(str(WEBAPP / "app" / "migrations"))
    names = [m[0] for m in migrations]
    assert names == sorted(names) and names[0].startswith("001_")
    assert migrate.pending({}, migrations) == migrations
    done = {name: checksum for name, checksum, _ in migrations[:2]}
    assert [m[0] for m in migrate.pending(done, migrations)] == names[2:]


def test_an_edited_or_vanished_migration_is_refused(migrate):
    migrations = migrate.load(str(WEBAPP / "app" / "migrations"))
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.pending({migrations[0][0]: "0" * 64}, migrations)
    with pytest.raises(migrate.MigrationError, match="000_gone.sql is missing"):
        migrate.pending({"000_gone.sql": "x"}, migrations)


def test_notes_page_escapes_what_users_typed_and_validates_input():
    app = _load(WEBAPP / "app" / "app.py", "ex_notes_app")
    page = app.render_page("Team <notes>", [{"author": "eve", "body": "<script>x</script>",
                                            "created_at": "2026-01-01"}], "replica-1")
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<title>Team &lt;notes&gt;</title>" in page
    assert app.validate_note({"body": "  hi  "}) == ("hi", "anonymous")
    for bad in ({"body": ""}, {"body": "x" * 501}, ["body"]):
        with pytest.raises(ValueError):
            app.validate_note(bad)


def test_db_password_is_read_from_the_secret_file(tmp_path, monkeypatch):
    db = _load(WEBAPP / "app" / "db.py", "ex_notes_db")
    secret = tmp_path / "db_password"
    secret.write_text("s3cret\nignored second line\n")
    monkeypatch.setenv("DB_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("DB_NAME", "notes")
    args = db.connect_args()
    assert args["password"] == "s3cret" and args["dbname"] == "notes" and args["host"] == "db"


def test_web_proxy_takes_the_api_replicas_in_turn(monkeypatch):
    web = _load(ML / "web" / "server.py", "ex_web_server")
    answers = [(2, 1, 6, "", (ip, 8000)) for ip in ("10.0.0.7", "10.0.0.5", "10.0.0.6", "10.0.0.5")]
    monkeypatch.setattr(web.socket, "getaddrinfo", lambda *a, **k: answers)
    rr = web.RoundRobin("http://model-api:8000")
    assert [rr.next_base() for _ in range(4)] == [
        "http://10.0.0.5:8000", "http://10.0.0.6:8000", "http://10.0.0.7:8000", "http://10.0.0.5:8000"]

    def unresolvable(*_a, **_k):
        raise OSError("no such host")
    monkeypatch.setattr(web.socket, "getaddrinfo", unresolvable)
    assert rr.next_base() == "http://model-api:8000"
