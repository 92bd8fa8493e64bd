"""Dockerfile variable expansion and word splitting (BuildKit's rules)."""

from __future__ import annotations

import pytest

from engine.build.expand import ExpandError, expand, split_words

ENV = {"A": "a", "EMPTY": "", "SP": "x y"}


@pytest.mark.parametrize("text, out", [
    ("$A", "a"), ("${A}b", "ab"), ("$Ab", ""), ("${NOPE}", ""),
    ("${A:-d}", "a"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${NOPE-d}", "d"),
    ("${A:+set}", "set"), ("${EMPTY:+set}", ""), ("${EMPTY+set}", "set"), ("${NOPE+set}", ""),
    ("${NOPE:-${A}x}", "ax"), ("\\$A", "$A"), ("'$A'", "$A"), ('"$A $SP"', "a x y"),
    ("a$", "a$"), ("$1x", "x"),
])
def test_expand(text, out):
    assert expand(text, ENV) == out


def test_required_variable_errors():
    with pytest.raises(ExpandError, match="NOPE: needed"):
        expand("${NOPE:?needed}", ENV)
    assert expand("${A:?needed}", ENV) == "a"


def test_unterminated_quote_and_bad_substitution():
    with pytest.raises(ExpandError):
        expand("'abc", ENV)
    with pytest.raises(ExpandError):
        expand("${A", ENV)


def test_split_words_and_used_tracking():
    used: set[str] = set()
    assert split_words('$SP "q $SP" \'l $A\'', ENV, used=used) == ["x y", "q x y", "l $A"]
    assert used == {"SP"}


def test_backtick_escape():
    assert expand("`$A", ENV, escape="`") == "$A"
