#!/usr/bin/env bash
# Compile every CUDA source under kernels/csrc for sm_80 and sm_90a with warnings as errors
# (what CI checks through tests/test_kernels_compile.py). Needs nvcc only: no GPU, no torch.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" -m kernels.build --check
