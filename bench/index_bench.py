"""Index and query benchmark (not a test): prints a table of what it measured.

  python bench/index_bench.py [--runs 10]

Measures, on the fetched pinned sources (vLLM always; KsanaLLM where present):
  - cold index of all frameworks together (wall time; peak RSS summed over the whole process tree)
  - no-change re-index, and one-file edits (a body, a same-size edit with its mtime restored, an
    __init__.py removed and put back), each checked identical to a cold index of the edited tree
  - the same edits with `infernav index --watch` running (the index kept live, analyzer/live.py):
    `infernav index` after each edit, answered by the watcher, each checked against the same cold
    index (--no-watch leaves this out)
  - whole-process CLI latency, median of N runs, for find / callers / callees / path
It works in a temporary INFERNAV_HOME whose sources link to the fetched trees, so the user's
cache and indexes are left as they were.
"""
from __future__ import annotations

import argparse
import marshal
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INFERNAV = [sys.executable, "-m", "infernav.analyzer.cli"]
_exe = Path(sys.executable).with_name("infernav")
if _exe.exists():
    INFERNAV = [str(_exe)]  # the console script, as users run it

QUERIES = {
    "vllm": [
        ("find", ["find", "Scheduler"]),
        ("callers", ["callers", "vllm.v1.core.sched.scheduler.Scheduler.update_from_output"]),
        ("callees", ["callees", "Scheduler.schedule"]),
        ("path", ["path", "vllm._custom_ops.fused_add_rms_norm", "vllm::fused_add_rms_norm_kernel"]),
        ("path -k 3", ["path", "EngineCore.step", "BlockPool.get_new_blocks", "-k", "3"]),
    ],
    "ksanallm": [
        ("callers", ["callers", "-f", "ksanallm", "PrefixCacheManager::AllocateRequestBlocks"]),
        ("path", ["path", "-f", "ksanallm", "ScheduleProcessor::UpdateWithGenerationResult",
                  "PrefixCacheManager::AppendCachedBlockToTimedList"]),
    ],
}


def _edit_body(copy: Path) -> str:
    target = copy / "vllm" / "v1" / "core" / "block_pool.py"
    target.write_text(target.read_text() + "\n\ndef _bench_probe(pool):\n    return pool.get_num_free_blocks()\n")
    return "a function appended to vllm/v1/core/block_pool.py"


def _edit_same_size(copy: Path) -> str:
    target = copy / "vllm" / "v1" / "core" / "block_pool.py"
    st = target.stat()
    text = target.read_text()
    new = text.replace("get_num_free_blocks()", "get_usage_number___()", 1)
    assert len(new) == len(text) and new != text
    target.write_text(new)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    return "same-size edit of block_pool.py, mtime restored"


def _edit_init_remove(copy: Path) -> str:
    (copy / "vllm" / "v1" / "core" / "__init__.py").rename(copy / "vllm" / "v1" / "core" / "__init__.py.off")
    return "vllm/v1/core/__init__.py removed (its modules change names)"


def _edit_init_add(copy: Path) -> str:
    (copy / "vllm" / "v1" / "core" / "__init__.py.off").rename(copy / "vllm" / "v1" / "core" / "__init__.py")
    return "vllm/v1/core/__init__.py put back"


EDITS = {"body": _edit_body, "same-size": _edit_same_size, "init-remove": _edit_init_remove,
         "init-add": _edit_init_add}


_TICK = os.sysconf("SC_CLK_TCK")
LAST_CPU = [0.0]    # CPU seconds of the last run_measured's process tree (sampled from /proc)


def _tree_rss_kib(pgid: int, cpu: dict | None = None) -> int:
    """RSS of the process group now; `cpu` gets each member's user+sys ticks (the fork server's
    workers are not the command's children, so RUSAGE_CHILDREN would miss them)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 (pgrp) after the comm
                continue
            if cpu is not None:   # fields 14, 15: utime, stime
                cpu[entry] = max(cpu.get(entry, 0), int(fields[11]) + int(fields[12]))
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_measured(cmd: list[str], env: dict) -> tuple[float, int, str]:
    """(wall seconds, peak RSS of the process tree in MiB, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    peak = [0]
    done = threading.Event()
    ticks: dict = {}

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid, ticks))
            time.sleep(0.01)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    t.join()
    LAST_CPU[0] = sum(ticks.values()) / _TICK
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out}")
    return wall, peak[0] // 1024, out


def _without_root(d: list) -> list:
    return [*d[:-1], [kv for kv in d[-1] if kv[0] != "root"]]


def watch_edits(vref, work: Path, env: dict, kinds: list[str], colds: dict) -> list[tuple[str, str, str]]:
    """The edits again on a fresh copy, with `infernav index --watch` holding the index: the wall
    time of `infernav index` after each (answered by the watcher), and its index against the cold
    index of the same edited tree made above (the source folder's path aside)."""
    import signal

    from infernav.analyzer import sources

    copy, home = work / "vllm-watch", work / "home3"
    shutil.copytree(sources.locate(vref), copy, symlinks=True)
    (home / "sources").mkdir(parents=True)
    (home / "sources" / f"{vref.key}.link").write_text(str(copy))
    env3 = {**env, "INFERNAV_HOME": str(home)}
    run_measured(INFERNAV + ["index", "vllm", "--force"], env3)
    t0 = time.perf_counter()
    watcher = subprocess.Popen(INFERNAV + ["index", "vllm", "--watch", "-q"], env=env3, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    rows = []
    try:
        for line in watcher.stderr:
            if line.startswith("watching "):
                break
        else:
            raise SystemExit("the watcher did not start")
        rows.append(("`infernav index --watch` (vllm) ready, from an up-to-date index",
                     f"{time.perf_counter() - t0:.2f} s", "solves the stored facts with the provenance log"))
        for kind in kinds:
            what = EDITS[kind](copy)
            wall, _rss, out = run_measured(INFERNAV + ["index", "vllm"], env3)
            same = _without_root(dump(home / "index" / f"{vref.key}.sqlite")) == _without_root(colds[kind])
            lines = out.splitlines()
            secs = next((ln.split("(", 1)[1].rstrip(")") for ln in lines if ": incremental;" in ln), "")
            how = " ".join(ln.strip() for ln in lines if "rebuilt because:" in ln or "--watch" in ln)
            rows.append((f"one-file edit, `infernav index` beside `index --watch` (vllm): {kind}", f"{wall:.2f} s",
                         f"{what}; {'identical to' if same else 'DIFFERS from'} a cold index; {how}; "
                         f"watcher's steps: {secs}"))
        with open(f"/proc/{watcher.pid}/status") as f:
            hwm = next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:"))
        rows.append(("  the watcher's peak RSS", f"{hwm // 1024} MiB", "VmHWM of its process"))
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=60)
    return rows


def bytecode_state() -> str:
    """Whether the CLI's own modules start from cached bytecode (what `make` writes; see the
    Makefile's COMPILE) or compile from source on every call."""
    import importlib.util

    src = HERE.parent / "analyzer" / "cli" / "__init__.py"
    pyc = Path(importlib.util.cache_from_source(str(src)))
    fresh = pyc.exists() and pyc.stat().st_mtime >= src.stat().st_mtime
    return "bytecode cached" if fresh else "no cached bytecode: every call compiles the package"


def machine_speed() -> float:
    """Seconds for a fixed pure-Python workload shaped like the value flow's (set unions, dict
    lookups, tuples), best of 3, so runs on different machines can be compared: the sandboxes
    this is measured on have differed by 1.8x in the same code's resolve time."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        pts: dict[int, set[int]] = {}
        for i in range(300_000):
            s = pts.setdefault(i % 5_000, set())
            s |= {i % 977, (i * 7) % 1_013}
            pts[(i, i % 3)[1]] = s
        best = min(best, time.perf_counter() - t)
    return best


def median_latency(args: list[str], env: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(INFERNAV + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def dump(path: Path) -> list:
    conn = sqlite3.connect(path)
    out = [sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
           for t in ("symbols", "edges", "overrides", "aliases", "unresolved")]
    out.append([(p, h, e, marshal.loads(f) if f else None)
                for p, h, e, f in conn.execute("SELECT path, hash, errors, facts FROM files ORDER BY path")])
    out.append(sorted((k, v) for k, v in conn.execute("SELECT key, value FROM meta") if k != "indexed_at"))
    conn.close()
    return out


def _write_json(path: Path, rows: list[tuple[str, str, str]], missing: list[str]) -> None:
    import json

    try:
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, "cores": os.cpu_count(),
        "python": sys.version.split()[0], "not_measured": missing,
        "rows": [{"measure": m, "result": r, "note": n} for m, r, n in rows]}, indent=1) + "\n")
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--edits", default="body,same-size,init-remove,init-add",
                    help=f"one-file edits to time on a copy of vLLM, in order (of: {', '.join(EDITS)})")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "index_bench.json",
                    help="JSON of the measurements (bench/results/ holds committed reference runs)")
    ap.add_argument("--no-watch", action="store_true", help="leave out the edits beside `infernav index --watch`")
    ap.add_argument("--frameworks", default="",
                    help="comma-separated engines to index (default: every fetched one); issue 11's cold "
                         "target is vllm,ksanallm")
    args = ap.parse_args()

    from infernav.analyzer import sources

    names = [n for n in args.frameworks.split(",") if n]
    unknown = sorted(set(names) - {r.name for r in sources.all_default_refs()})
    if unknown:
        raise SystemExit(f"--frameworks: no pinned engine named {', '.join(unknown)}")
    wanted = [r for r in sources.all_default_refs() if not names or r.name in names]
    refs = [r for r in wanted if sources.locate(r) is not None]
    missing = [r.key for r in wanted if sources.locate(r) is None]
    if not refs:
        raise SystemExit("nothing fetched: run `make` (or `infernav fetch`) first")
    rows: list[tuple[str, str, str]] = [("machine speed (fixed pure-Python workload, best of 3)",
                                         f"{machine_speed():.3f} s", "lower is faster; compare runs by it")]
    work = Path(tempfile.mkdtemp(prefix="infernav-bench-"))
    try:
        home = work / "home"
        (home / "sources").mkdir(parents=True)
        for ref in refs:
            (home / "sources" / f"{ref.key}.link").write_text(str(sources.locate(ref)))
        env = {**os.environ, "INFERNAV_HOME": str(home)}
        env.pop("INFERNAV_PINS", None)
        what = " + ".join(f"{r.key} ({', '.join(r.roots)})" for r in refs)

        load0 = os.getloadavg()[0]
        names = [r.name for r in refs]
        wall, rss, out = run_measured(INFERNAV + ["index", *names, "--force"], env)
        cpu, load = LAST_CPU[0], max(load0, os.getloadavg()[0])
        rows.append(("cold index, " + what, f"{wall:.2f} s", f"peak RSS {rss} MiB (whole process tree)"))
        # On a shared machine the wall time says as much about the neighbours as about infernav:
        # the CPU it used, and the load average around the run, say what it cost.
        rows.append(("  CPU (user+sys, whole tree, sampled every 10 ms)", f"{cpu:.2f} s",
                     f"load average {load:.1f} on {os.cpu_count()} cores during the run"))
        for line in out.splitlines():
            if ": cold;" in line:
                rows.append(("  " + line.split(":")[0], line.split("(", 1)[1].rstrip(")"), ""))
        wall, _, _ = run_measured(INFERNAV + ["index", *names], env)
        rows.append((f"no-change re-index ({', '.join(names)})", f"{wall:.2f} s", "whole process"))

        # One-file edits on a private copy of vLLM, each compared with a cold index of the edited tree.
        vref = next(r for r in refs if r.name == "vllm")
        copy = work / "vllm-copy"
        shutil.copytree(sources.locate(vref), copy, symlinks=True)
        home2 = work / "home2"
        (home2 / "sources").mkdir(parents=True)
        (home2 / "sources" / f"{vref.key}.link").write_text(str(copy))
        env2 = {**env, "INFERNAV_HOME": str(home2)}
        run_measured(INFERNAV + ["index", "vllm", "--force"], env2)
        colds = {}
        for kind in args.edits.split(","):
            what = EDITS[kind](copy)
            wall, rss, out = run_measured(INFERNAV + ["index", "vllm"], env2)
            inc = dump(home2 / "index" / f"{vref.key}.sqlite")
            run_measured(INFERNAV + ["index", "vllm", "--force"], env2)
            cold = colds[kind] = dump(home2 / "index" / f"{vref.key}.sqlite")
            same = "identical to a cold index" if inc == cold else "DIFFERS from a cold index"
            secs = next((ln.split("(", 1)[1].rstrip(")") for ln in out.splitlines() if ": incremental;" in ln), "")
            rows.append((f"one-file edit re-index (vllm): {kind}", f"{wall:.2f} s",
                         f"{what}; {same}; peak RSS {rss} MiB; {secs}"))

        if not args.no_watch:
            rows += watch_edits(vref, work, env, args.edits.split(","), colds)

        bytecode = bytecode_state()
        for ref in refs:
            for label, q in QUERIES.get(ref.name, []):
                med = median_latency(q, env, args.runs)
                rows.append((f"CLI {label} ({ref.name})", f"{med * 1000:.0f} ms",
                             f"median of {args.runs}, whole process, {bytecode}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    _write_json(args.out, rows, missing)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>10}  note")
    for name, result, note in rows:
        print(f"{name:<{width}}  {result:>10}  {note}")
    if missing:
        print(f"(not measured, source absent: {', '.join(missing)})")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
