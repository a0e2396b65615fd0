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


def edges(idx, name: str, direction: str) -> dict[str, set[str]]:
    """{neighbour name: {resolution labels}} for the direct callers/callees of `name`."""
    out: dict[str, set[str]] = {}
    for h in idx.call_sites(ids(idx, name), direction):
        out.setdefault(h.symbol.name, set()).add(h.resolution)
    return out


def callees(idx, name: str) -> dict[str, set[str]]:
    return edges(idx, name, "callees")


def callers(idx, name: str) -> dict[str, set[str]]:
    return edges(idx, name, "callers")
