"""Durations and byte sizes parse and print exactly as Compose (Go) does."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from orchestrator.compose.units import (
    SECOND,
    canonical_bytes,
    canonical_duration,
    duration_seconds,
    format_duration,
    parse_bytes,
    parse_duration,
)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("1m30s", 90), ("1h5m30s20ms", 3930.02), ("1.5s", 1.5), ("500ms", 0.5),
        ("10us", 0.00001), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("0", 0),
        ("-1s", -1), (30, 30), (1.5, 1.5),
    ],
)
def test_parse_duration(text, seconds):
    assert duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "1", "s", "1x", "1.s5", "abc", "1m 30s", True])
def test_bad_durations_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(
    "text, printed",
    [
        ("60s", "1m0s"), ("120s", "2m0s"), ("10s", "10s"), ("1.5s", "1.5s"), ("90s", "1m30s"),
        ("1h", "1h0m0s"), ("500ms", "500ms"), ("1500ms", "1.5s"), ("0s", "0s"), ("5us", "5µs"),
        ("1m0.25s", "1m0.25s"), ("25h", "25h0m0s"),
    ],
)
def test_durations_print_like_go(text, printed):
    assert canonical_duration(text) == printed


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_is_identity(ns):
    assert parse_duration(format_duration(ns)) == ns


@pytest.mark.parametrize(
    "text, value",
    [
        ("512m", 536870912), ("1g", 1073741824), ("1GB", 1073741824), ("1.5g", 1610612736),
        ("50M", 52428800), ("20M", 20971520), ("1024", 1024), ("10k", 10240), ("1kb", 1024),
        ("2Ki", 2048), ("1KiB", 1024), ("1 m", 1048576), ("1t", 1 << 40), (10000, 10000),
        ("-1", -1), ("0", 0),
    ],
)
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("bad", ["", "m", "1x", "1.2.", "-1m", "12 mbx", "1e3"])
def test_bad_sizes_are_rejected(bad):
    with pytest.raises(ValueError, match="invalid size"):
        parse_bytes(bad)


def test_canonical_bytes_is_a_decimal_string():
    assert canonical_bytes("50M") == "52428800"
    assert SECOND == 10**9
