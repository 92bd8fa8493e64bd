"""Naming rules, quantities and probe commands."""

from __future__ import annotations

import pytest

from orchestrator.k8s.names import DNS1035_LABEL, dns_label, is_label_key, is_label_value, split_labels
from orchestrator.k8s.probes import probe_command
from orchestrator.k8s.resources import cpu_quantity, memory_quantity


@pytest.mark.parametrize("text,want", [
    ("web", "web"), ("My_App.v2", "my-app-v2"), ("1db", "x-1db"), ("__a__", "a"), ("a--b", "a-b"),
])
def test_dns_label(text, want):
    assert dns_label(text) == want


def test_long_names_are_cut_to_63_chars_and_stay_distinct():
    a, b = dns_label("a" * 80), dns_label("a" * 81)
    assert len(a) <= 63 and DNS1035_LABEL.match(a) and a != b


@pytest.mark.parametrize("cpus,want", [(0.5, "500m"), ("1.5", "1500m"), (2, "2"), (0.0001, "1m")])
def test_cpu_quantity(cpus, want):
    assert cpu_quantity(cpus) == want


@pytest.mark.parametrize("size,want", [("52428800", "50Mi"), ("1g", "1Gi"), ("1000", "1000"), ("1536k", "1536Ki")])
def test_memory_quantity(size, want):
    assert memory_quantity(size) == want


@pytest.mark.parametrize("test,want", [
    (["CMD", "curl", "-f", "x"], ["curl", "-f", "x"]),
    (["CMD-SHELL", "curl -f x || exit 1"], ["/bin/sh", "-c", "curl -f x || exit 1"]),
    ("curl x", ["/bin/sh", "-c", "curl x"]),
    (["NONE"], None),
    ([], None),
])
def test_probe_command(test, want):
    assert probe_command(test) == want


def test_label_rules():
    assert is_label_key("com.example/tier") and is_label_key("LABEL.WITH.DOT")
    assert not is_label_key("bad key") and not is_label_key("Bad_Prefix/x")
    assert is_label_value("") and is_label_value("v1.2-rc_3")
    assert not is_label_value("has space") and not is_label_value("x" * 64)
    good, notes, bad = split_labels({"a": "1", "b": "two words", "bad key": "x", "n": None})
    assert good == {"a": "1", "n": ""} and notes == {"b": "two words"} and bad == ["bad key"]
