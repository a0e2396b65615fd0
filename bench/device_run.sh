#!/usr/bin/env bash
# One call on the GPU machine, from a bare copy of the repository: versions, build, smoke test of the
# newest kernels, the GPU tests, the attention bench, and optionally compute-sanitizer and a SASS
# summary. Everything lands in $OUT (logs, JSON, Markdown). Stages are time-boxed so one call ends
# inside the device tool's 10-minute limit.
#
#   STAGES=info,build,smoke,tests,bench BENCH_ARGS="--only decode,lowp --lean" bash bench/device_run.sh
#   STAGES=info,build,tests,sweep,sanitize PYTEST_K=paged_decode SANITIZE_ARGS="--only decode" bash bench/device_run.sh
set -u
OUT=${OUT:-$PWD/bench/out}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
STAGES=${STAGES:-info,build,smoke,tests,bench}
BENCH_ARGS=${BENCH_ARGS:-"--only decode,lowp --lean"}
DEADLINE=${DEADLINE:-560}
T0=$(date +%s)
has() { [[ ",$STAGES," == *",$1,"* ]]; }
left() { local l=$((DEADLINE - ($(date +%s) - T0))); echo $((l > 5 ? l : 5)); }
stamp() { echo "[$(($(date +%s) - T0))s] $*"; }

if has info; then
  { nvidia-smi; nvcc --version | tail -2; python3 -c "import torch, platform; print(platform.python_version(), torch.__version__, torch.cuda.get_device_name())"; } >"$OUT/info.txt" 2>&1
  stamp "info: $(tail -1 "$OUT/info.txt")"
fi
if has build; then
  stamp build
  timeout 300 python3 -m kernels.build 2>&1 | tail -3
fi
if has sass; then
  lib=$(python3 -c "from kernels import build; print(build.build())" 2>/dev/null | tail -1)
  cuobjdump -sass "$lib" >/tmp/sass.txt 2>&1
  python3 - >"$OUT/sass_summary.txt" <<'PY'
import re, collections
cur, counts = None, collections.OrderedDict()
for line in open("/tmp/sass.txt"):
    m = re.search(r"Function : (\S+)", line)
    if m:
        cur = m.group(1); counts[cur] = collections.Counter(); continue
    if cur:
        for op in re.findall(r"\b(HGMMA|HMMA|LDSM|LDS|LDGSTS|UTMALDG|SYNCS|LDL|STL|MUFU|BAR|WARPSYNC|SHFL|PRMT|F2FP)\b", line):
            counts[cur][op] += 1
for k, c in counts.items():
    if any(s in k for s in ("fa3ws", "paged_decode_tc", "fa3_fwd")):
        print(k[:160], dict(c))
PY
  stamp "sass: $(wc -l <"$OUT/sass_summary.txt") kernels summarised"
fi
if has smoke; then
  stamp smoke
  timeout 240 python3 bench/kernel_smoke.py --out "$OUT" 2>&1 | tee "$OUT/smoke.log"
  ok=$(grep -o 'FA3WS_OK=.*' "$OUT/smoke.log" | tail -1 | cut -d= -f2)
  export INFERNAV_FA3WS_CFGS="${ok}"
  stamp "fa3ws configs that passed the smoke test: '${ok}'"
fi
if has tests; then
  stamp tests
  mkdir -p /tmp/shim/infernav && touch /tmp/shim/infernav/__init__.py && ln -sfn "$PWD/kernels" /tmp/shim/infernav/kernels
  { date -u; md5sum tests/test_kernels_gpu.py kernels/ops.py kernels/csrc/*.cu; nvidia-smi -L; } >"$OUT/gpu_tests.log"
  PYTHONPATH=/tmp/shim INFERNAV_REQUIRE=gpu timeout "$(left)" python3 -m pytest -q -ra -p no:cacheprovider \
    --timeout 240 --durations=8 ${PYTEST_K:+-k "$PYTEST_K"} tests/test_kernels_gpu.py 2>&1 | tee -a "$OUT/gpu_tests.log" | tail -25
fi
if has bench; then
  stamp bench
  timeout "$(left)" python3 bench/attention_bench.py --out "$OUT" $BENCH_ARGS 2>&1 | tee "$OUT/bench.log" | grep -v "^\[" | tail -80
fi
if has sweep; then
  stamp sweep
  timeout "$(left)" python3 bench/decode_sweep.py --out "$OUT" ${SWEEP_ARGS:-} 2>&1 | tee "$OUT/sweep.log" | grep -v "^\[" | tail -20
fi
if has ncu; then
  stamp ncu
  timeout "$(left)" ncu --clock-control none -k regex:"fa3ws_kernel|paged_decode_tc_kernel" --launch-skip 0 \
    --launch-count 6 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
    --section MemoryWorkloadAnalysis python3 bench/profile_kernels.py >"$OUT/ncu.txt" 2>&1
  grep -E "fa3ws_kernel|paged_decode_tc|Duration|Memory Throughput|Compute \(SM\) Throughput|Issued Warp|No Eligible|Achieved Occupancy" \
    "$OUT/ncu.txt" | cut -c1-120 | head -60
fi
if has sanitize; then
  for tool in memcheck racecheck; do
    stamp "compute-sanitizer $tool"
    timeout "$(left)" compute-sanitizer --tool $tool --print-limit 20 python3 bench/attention_bench.py --selfcheck ${SANITIZE_ARGS:-} \
      >"$OUT/sanitizer_$tool.log" 2>&1
    tail -3 "$OUT/sanitizer_$tool.log"
  done
fi
stamp done
