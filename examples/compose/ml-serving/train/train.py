"""One-shot job: generate the churn dataset, fit the model, write it to the models volume.

Settings come from the environment (SEED, SAMPLES, EPOCHS, MODEL_DIR) so compose can
change them; the same seed always gives the same model. Exits non-zero on failure so
``service_completed_successfully`` keeps the API from starting without a model.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

from churn.model import Model, accuracy, generate, train

__all__ = ["fit", "write_model", "main"]


def fit(samples: int, seed: int, epochs: int) -> tuple[Model, float, float]:
    """Train on 80% of a generated dataset; the model and its train and test accuracy."""
    data = generate(samples, seed)
    cut = int(len(data) * 0.8)
    model = train(data[:cut], epochs=epochs)
    return model, accuracy(model, data[:cut]), accuracy(model, data[cut:])


def write_model(model: Model, directory: str) -> str:
    """Write ``model.json`` atomically (readers never see half a file); its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "model.json")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(model.to_json(), f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def main() -> int:
    samples = int(os.environ.get("SAMPLES", "4000"))
    seed = int(os.environ.get("SEED", "42"))
    epochs = int(os.environ.get("EPOCHS", "300"))
    directory = os.environ.get("MODEL_DIR", "/models")
    started = time.monotonic()
    print(f"generating {samples} customers (seed {seed}), training {epochs} epochs", flush=True)
    model, train_acc, test_acc = fit(samples, seed, epochs)
    seconds = time.monotonic() - started
    model.metadata = {
        "version": f"seed{seed}-n{samples}-e{epochs}", "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "trained_by": socket.gethostname(), "samples": samples, "seed": seed, "epochs": epochs,
        "train_accuracy": round(train_acc, 4), "test_accuracy": round(test_acc, 4),
        "training_seconds": round(seconds, 2)}
    print(f"train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f} ({seconds:.1f}s)", flush=True)
    if test_acc < 0.6:
        print("test accuracy below 0.6: refusing to publish this model", file=sys.stderr)
        return 1
    print(f"model written to {write_model(model, directory)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
