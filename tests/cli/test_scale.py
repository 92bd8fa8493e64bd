"""`shoal scale svc=N`: parsing and the request."""

from __future__ import annotations

import pytest

from orchestrator.cli.main import ShoalError
from orchestrator.cli.scale_cmd import parse_scale


def test_scale_parses_pairs_and_posts(cli, fake):
    assert cli("scale", "web=5", "db=0").returncode == 0
    assert fake.calls("POST", "/projects/demo/scale")[-1].body == {"scale": {"web": 5, "db": 0},
                                                                   "no_deps": False}


@pytest.mark.parametrize("item, message", [("web", "expected SERVICE=REPLICAS"), ("=3", "expected"),
                                           ("web=x", "not a number"), ("web=-1", "negative")])
def test_parse_scale_rejects_bad_pairs(item, message):
    with pytest.raises(ShoalError, match=message):
        parse_scale([item])

