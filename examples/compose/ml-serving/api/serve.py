"""model-api: serve churn predictions over HTTP, cached in redis, from the model on the volume.

GET /healthz  -> 200 when the model is loaded (the container's health check)
GET /         -> which replica this is and the model's metadata
POST /predict -> {"tenure_months": 3, "monthly_charges": 95.5, "support_calls": 4,
                  "paperless_billing": 1, "contract": "month-to-month"}
                 answers the churn probability, the replica that answered and whether
                 redis already had the answer. Several replicas run behind one port.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from churn.model import FeatureError, Model
from resp import Redis, RedisError

__all__ = ["ModelFile", "Predictor", "make_handler", "main"]

REPLICA = socket.gethostname()
CACHE_TTL = 3600


class ModelFile:
    """The model on the volume, reloaded when the train job writes a new one."""

    def __init__(self, path: str) -> None:
        self.path, self._mtime, self._model = path, 0.0, None
        self._lock = threading.Lock()

    def get(self) -> Model:
        """The current model; OSError/ValueError when there is none to serve."""
        mtime = os.stat(self.path).st_mtime
        with self._lock:
            if self._model is None or mtime != self._mtime:
                with open(self.path, encoding="utf-8") as f:
                    self._model = Model.from_json(json.load(f))
                self._mtime = mtime
                print(f"{REPLICA}: loaded model {self._model.metadata.get('version')}", flush=True)
            return self._model


class Predictor:
    """Scores customers, remembering answers in redis so every replica shares them."""

    def __init__(self, models: ModelFile, cache: Redis | None, log: Callable[[str], None] = print) -> None:
        self.models, self.cache, self.log = models, cache, log

    def predict(self, features: dict[str, Any]) -> dict[str, Any]:
        """The answer to one POST /predict body; FeatureError for a bad request."""
        model = self.models.get()
        version = model.metadata.get("version", "unknown")
        digest = hashlib.sha256(json.dumps(features, sort_keys=True).encode()).hexdigest()[:32]
        key = f"churn:{version}:{digest}"
        cached, probability = self._cached(key)
        if probability is None:
            probability = round(model.probability(features), 4)
            self._store(key, probability)
        self.log(f"{REPLICA}: p={probability} ({'cache hit' if cached else 'cache miss'})")
        return {"churn_probability": probability, "will_churn": probability >= 0.5, "replica": REPLICA,
                "cached": cached, "model_version": version}

    def _cached(self, key: str) -> tuple[bool, float | None]:
        if self.cache is None:
            return False, None
        try:
            value = self.cache.call("GET", key)
        except RedisError as exc:
            self.log(f"{REPLICA}: cache unavailable: {exc}")
            return False, None
        return (True, float(value)) if value is not None else (False, None)

    def _store(self, key: str, probability: float) -> None:
        if self.cache is None:
            return
        try:
            self.cache.call("SET", key, str(probability), "EX", CACHE_TTL)
        except RedisError as exc:
            self.log(f"{REPLICA}: cache unavailable: {exc}")


def make_handler(predictor: Predictor) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to one predictor."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "model-api/1"

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode() + b"\n"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("X-Replica", REPLICA)
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self) -> None:  # noqa: N802 - CORS preflight for browsers
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            try:
                model = predictor.models.get()
            except (OSError, ValueError) as exc:
                self._send(503, {"status": "no model", "error": str(exc), "replica": REPLICA})
                return
            if self.path == "/healthz":
                self._send(200, {"status": "ok", "replica": REPLICA})
            elif self.path == "/":
                self._send(200, {"replica": REPLICA, "model": model.metadata})
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/predict":
                self._send(404, {"error": f"no route {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                self._send(200, predictor.predict(body))
            except (ValueError, FeatureError) as exc:
                self._send(400, {"error": str(exc), "replica": REPLICA})
            except OSError as exc:
                self._send(503, {"error": f"no model: {exc}", "replica": REPLICA})

        def log_message(self, fmt: str, *args: Any) -> None:
            if self.path != "/healthz":  # health probes every few seconds would drown the log
                sys.stdout.write(f"{REPLICA}: {self.address_string()} {fmt % args}\n")
                sys.stdout.flush()

    return Handler


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    models = ModelFile(os.environ.get("MODEL_PATH", "/models/model.json"))
    try:
        models.get()
    except (OSError, ValueError) as exc:
        print(f"{REPLICA}: cannot load the model: {exc}", file=sys.stderr)
        return 1
    host, _, cache_port = os.environ.get("REDIS_ADDR", "cache:6379").partition(":")
    predictor = Predictor(models, Redis(host, int(cache_port or 6379)), lambda m: print(m, flush=True))
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(predictor))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"{REPLICA}: serving predictions on :{port}", flush=True)
    server.serve_forever()
    print(f"{REPLICA}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
