#!/usr/bin/env bash
# One device-tool call (H200): the GPU kernel tests with INFERNAV_REQUIRE=gpu, so a skip would be a
# failure; the log ($OUT/kernels_gpu_require.log, committed as bench/results/kernels_gpu_require.log)
# shows the environment, the GPU, torch, and pytest's -rs summary with its counts.
#   COMMIT=<sha> bash bench/gpu_require_run.sh      (from the repository root)
# torch: the image's own CUDA build is used (constraints.txt pins torch==2.13.0 for the local CPU
# installs; a CUDA wheel of it is far over the tool's 64 MiB carry limit and nothing can be fetched there).
# Note: the device tool sends the session's own checkout (the lead's /work/main), not a helper's
# worktree; the 2026-12-02 run therefore ran these same steps inline over that tree and printed the
# md5 of every file the tests use (all equal to h-verify's; `md5sum -c` over the log's lines checks it).
set -u
OUT=${OUT:-$PWD/bench/out}; mkdir -p "$OUT"
LOG="$OUT/kernels_gpu_require.log"
export PYTHONUNBUFFERED=1 INFERNAV_REQUIRE=gpu
CMD="INFERNAV_REQUIRE=gpu python3 -m pytest tests/test_kernels_gpu.py -rs -q -p no:cacheprovider"
mkdir -p /tmp/shim/infernav && touch /tmp/shim/infernav/__init__.py && ln -sfn "$PWD/kernels" /tmp/shim/infernav/kernels
{
  echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') infernav commit ${COMMIT:-unknown} on the device tool's nvidia-h200; command: $CMD (PYTHONPATH=/tmp/shim: infernav.kernels -> kernels/)"
  echo '$ env | grep INFERNAV'; env | grep INFERNAV
  echo '$ nvidia-smi -L'; nvidia-smi -L
  echo '$ python3 -c torch'; python3 -c "import torch, platform; print('python', platform.python_version(), 'torch', torch.__version__, torch.cuda.get_device_name())"
  echo '$ nvcc --version | tail -1'; nvcc --version | tail -1
  echo "\$ $CMD"
  t0=$(date +%s)
  PYTHONPATH=/tmp/shim timeout 400 python3 -m pytest tests/test_kernels_gpu.py -rs -q -p no:cacheprovider 2>&1
  echo "pytest exit status $?, $(( $(date +%s) - t0 )) s wall (kernels built by the first test)"
} >"$LOG" 2>&1
tail -20 "$LOG"
