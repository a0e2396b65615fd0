"""The golden queries (tests/golden/queries.txt) answer exactly what answers.json recorded.

Why: the analyzer's layout and internals change often; users' answers must not change unless a
change means them to (then `python tests/golden/golden.py record` and review the diff).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import golden  # noqa: E402

RECORDED = __import__("json").loads(golden.ANSWERS.read_text(encoding="utf-8"))


def _need(frameworks: set[str], request) -> None:
    for fw in sorted(frameworks):
        request.getfixturevalue(f"{'ksana' if fw == 'ksanallm' else fw}_index")


@pytest.mark.parametrize("query", golden.queries())
def test_golden_query(query, request):
    _need(golden.frameworks_of(query), request)
    assert golden.answer(query) == RECORDED["answers"][query]


@pytest.mark.parametrize("framework", ["vllm", "ksanallm"])
def test_golden_graph_digest(framework, request):
    _need({framework}, request)
    assert golden.graph_digest(framework) == RECORDED["graphs"][framework]
