#!/usr/bin/env bash
# Issue 19 device calls from a helper's tree (bench/out/kern-tree): samples nvidia-smi every 100 ms in the
# background for the whole call (clocks, power, temperature, throttle reasons), runs MODE's stages, and packs
# everything under $OUT into one tarball (the device tool returns at most 8 files).
#   MODE=explore bash bench/kern_call.sh   build, SASS, smoke, the flash_attn GPU tests, bench/fwd_steady.py
#   MODE=reference bash bench/kern_call.sh the reference run: device_run.sh info,build,smoke,tests,bench,sanitize
set -u
export PYTHONUNBUFFERED=1
R=$OUT/r
mkdir -p "$R"
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,power.limit,temperature.gpu,clocks_event_reasons.active \
  --format=csv -lms 100 >"$R/smi.csv" 2>&1 &
SMI=$!
T0=$(date +%s)
if [ "${MODE:-explore}" = explore ]; then
  OUT=$R STAGES=info,build,sass,smoke,tests PYTEST_K=flash_attn DEADLINE=330 bash bench/device_run.sh 2>&1 | tee "$R/device_run.log"
  timeout $((520 - ($(date +%s) - T0))) python3 bench/fwd_steady.py --out "$R" --rounds ${ROUNDS:-2} --fp8-splits 2>&1 | tee "$R/fwd_steady.log" | grep -v "^\["
else
  OUT=$R STAGES=info,build,smoke,tests,bench,sanitize DEADLINE=${DEADLINE:-540} \
    BENCH_ARGS="--only decode,lowp,fp32 --lean --scan --name attention_h200" bash bench/device_run.sh 2>&1 | tee "$R/device_run.log"
fi
kill $SMI
date -u +%s >"$R/t_end_unix.txt"
tar czf "$OUT/r.tgz" -C "$OUT" r && rm -rf "$R"
ls -la "$OUT"
