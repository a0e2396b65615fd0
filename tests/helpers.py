"""Small helpers shared by the test modules: queries, and skips that some machines must not take."""
from __future__ import annotations

import os

import pytest

# INFERNAV_REQUIRE=gpu,ksanallm on a machine that must run those tests turns their skips into failures.
REQUIRED = {s.strip() for s in os.environ.get("INFERNAV_REQUIRE", "").split(",") if s.strip()}


def skip_unless(what: str, reason: str) -> None:
    """Skip with `reason`, or fail with it where INFERNAV_REQUIRE names `what`."""
    if what in REQUIRED:
        pytest.fail(f"INFERNAV_REQUIRE={what}, but {reason}", pytrace=False)
    pytest.skip(reason)


def ids(idx, name: str) -> list[int]:
    return [r.id for r in idx.lookup(name)]


def edges(idx, name: str, direction: str, resolutions=None) -> dict[str, set[str]]:
    """{neighbour name: {resolution labels}} for the direct callers/callees of `name` (default
    answers: no guesses; pass query.ALL_RESOLUTIONS for them too)."""
    out: dict[str, set[str]] = {}
    for h in idx.call_sites(ids(idx, name), direction, resolutions):
        out.setdefault(h.symbol.name, set()).add(h.resolution)
    return out


def callees(idx, name: str, resolutions=None) -> dict[str, set[str]]:
    return edges(idx, name, "callees", resolutions)


def callers(idx, name: str, resolutions=None) -> dict[str, set[str]]:
    return edges(idx, name, "callers", resolutions)
