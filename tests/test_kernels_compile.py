"""CI's compile check: every CUDA source under kernels/csrc compiles with nvcc for sm_80 and
sm_90a, warnings as errors. Needs nvcc only (no GPU, no torch); skipped where nvcc is absent."""
from __future__ import annotations

import pytest

from infernav.kernels import build


def test_every_cuda_source_compiles():
    if build.nvcc_path() is None:
        pytest.skip("nvcc not found: CUDA compile check skipped")
    assert build.SOURCES, "no .cu sources found"
    failures = build.check_compile(build.CHECK_ARCHS, jobs=2)
    assert not failures, "\n\n".join(failures)


def test_sources_use_no_torch_headers():
    for name in build.SOURCES + build.HEADERS:
        text = (build.CSRC / name).read_text()
        assert "torch/" not in text and "ATen/" not in text, f"{name} includes a torch header"
