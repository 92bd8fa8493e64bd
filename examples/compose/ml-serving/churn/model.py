"""Customer-churn logistic regression in plain Python: data, training, scoring, (de)serialisation.

Shared by the one-shot ``train`` job and the ``model-api`` replicas so both encode a
customer's features identically. Standard library only: the images stay offline.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = ["FEATURES", "CONTRACTS", "COLUMNS", "FeatureError", "Model", "generate", "encode", "train", "accuracy"]

# The inputs a caller sends to POST /predict, with the range each must lie in.
FEATURES: dict[str, tuple[float, float]] = {
    "tenure_months": (0, 120),
    "monthly_charges": (0, 500),
    "support_calls": (0, 100),
    "paperless_billing": (0, 1),
}
CONTRACTS = ("month-to-month", "one-year", "two-year")
# Encoded columns: the numeric features (standardised) then one-hot contract (month-to-month is the base).
COLUMNS = (*FEATURES, "contract_one_year", "contract_two_year")


class FeatureError(ValueError):
    """A request's features are missing, of the wrong type or out of range."""


def _true_logit(tenure: float, charges: float, calls: float, paperless: float, contract: str) -> float:
    """The hidden rule the synthetic customers churn by (what the model should recover)."""
    z = 0.6 - 0.06 * tenure + 0.03 * (charges - 70) + 0.55 * calls + 0.5 * paperless
    return z - {"month-to-month": 0.0, "one-year": 1.3, "two-year": 2.4}[contract]


def generate(n: int, seed: int) -> list[tuple[dict[str, Any], int]]:
    """``n`` synthetic customers and whether each churned, reproducible from ``seed``."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        customer = {
            "tenure_months": rng.randint(0, 72),
            "monthly_charges": round(min(120.0, max(18.0, rng.gauss(70, 25))), 2),
            "support_calls": min(9, int(rng.expovariate(0.6))),
            "paperless_billing": int(rng.random() < 0.6),
            "contract": rng.choices(CONTRACTS, weights=(55, 25, 20))[0],
        }
        z = _true_logit(customer["tenure_months"], customer["monthly_charges"], customer["support_calls"],
                        customer["paperless_billing"], customer["contract"])
        rows.append((customer, int(rng.random() < _sigmoid(z))))
    return rows


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def encode(customer: Mapping[str, Any]) -> list[float]:
    """The raw (unscaled) feature vector of one customer; FeatureError names what is wrong."""
    if not isinstance(customer, Mapping):
        raise FeatureError("features must be a JSON object")
    values = []
    for name, (low, high) in FEATURES.items():
        value = customer.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FeatureError(f"{name!r} must be a number")
        if not low <= value <= high:
            raise FeatureError(f"{name!r} must be between {low} and {high}")
        values.append(float(value))
    contract = customer.get("contract", "month-to-month")
    if contract not in CONTRACTS:
        raise FeatureError(f"'contract' must be one of {', '.join(CONTRACTS)}")
    return values + [float(contract == "one-year"), float(contract == "two-year")]


@dataclass
class Model:
    """Weights over standardised columns, plus the means and scales used to standardise."""

    weights: list[float]
    bias: float
    means: list[float]
    scales: list[float]
    metadata: dict[str, Any]

    def probability(self, customer: Mapping[str, Any]) -> float:
        """The churn probability of one customer."""
        x = encode(customer)
        z = self.bias + sum(w * (v - m) / s for w, v, m, s in zip(self.weights, x, self.means, self.scales))
        return _sigmoid(z)

    def to_json(self) -> dict[str, Any]:
        """The JSON document written to the models volume."""
        return {"columns": list(COLUMNS), "weights": self.weights, "bias": self.bias,
                "means": self.means, "scales": self.scales, "metadata": self.metadata}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Model":
        """Load a model written by ``to_json``; refuses one made for other columns."""
        if list(doc.get("columns", [])) != list(COLUMNS):
            raise ValueError(f"model columns {doc.get('columns')} do not match {list(COLUMNS)}")
        return cls([float(w) for w in doc["weights"]], float(doc["bias"]), [float(m) for m in doc["means"]],
                   [float(s) for s in doc["scales"]], dict(doc.get("metadata", {})))


def _standardiser(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    n = len(rows)
    means = [sum(col) / n for col in zip(*rows)]
    scales = []
    for col, mean in zip(zip(*rows), means):
        var = sum((v - mean) ** 2 for v in col) / n
        scales.append(math.sqrt(var) or 1.0)
    return means, scales


def train(data: Sequence[tuple[Mapping[str, Any], int]], epochs: int = 300, rate: float = 0.5,
          l2: float = 1e-3) -> Model:
    """Fit logistic regression by full-batch gradient descent on standardised columns."""
    raw = [encode(c) for c, _ in data]
    labels = [y for _, y in data]
    means, scales = _standardiser(raw)
    xs = [[(v - m) / s for v, m, s in zip(row, means, scales)] for row in raw]
    weights, bias, n = [0.0] * len(COLUMNS), 0.0, len(xs)
    for _ in range(epochs):
        grad, grad_b = [0.0] * len(weights), 0.0
        for x, y in zip(xs, labels):
            err = _sigmoid(bias + sum(w * v for w, v in zip(weights, x))) - y
            grad_b += err
            for j, v in enumerate(x):
                grad[j] += err * v
        weights = [w - rate * (g / n + l2 * w) for w, g in zip(weights, grad)]
        bias -= rate * grad_b / n
    return Model(weights, bias, means, scales, {})


def accuracy(model: Model, data: Sequence[tuple[Mapping[str, Any], int]]) -> float:
    """Share of customers whose churn the model gets right at a 0.5 threshold."""
    hits = sum(int((model.probability(c) >= 0.5) == bool(y)) for c, y in data)
    return hits / len(data)
