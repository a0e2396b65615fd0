"""An index kept live: one framework's solved state held in memory between edits, so that a
one-file edit is re-indexed in about a second instead of re-solving the whole value flow
(issue 11; `infernav index --watch` holds one per framework, analyzer/cli/watch.py).

Why a resident process: the value flow's solved state (millions of values, and hooks that are
closures) cannot be stored cheaply, and rebuilding it is the edit's whole cost (NOTES "Session
9"). Held here with its provenance log (resolve/python_provenance), an edit that changes only
calls inside a file's bodies, or moves code without changing what it binds, is re-solved in place (resolve/python_incremental.update_file), only
the call sites whose answers may have changed are reported again (PyCalls.report_site), and the
index gets the edges and unresolved sites that went and came (store.write_delta). Every other
change (a new, deleted or renamed file, a C++ file, changed definitions or bindings, a cone that
reaches a container class) is indexed as `infernav index` would (indexer.build, incremental) and
the state is made again from that build. The index written is the same either way (identical to
a cold index: tests/test_live.py, bench/index_bench.py --watch).
"""
from __future__ import annotations

import marshal
import os
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from . import store
from .indexer import IndexReport, _context_fingerprint, _module_names, _parse_many, _scan, build, index_path
from .sources import FrameworkRef


class LiveIndex:
    """One framework's index and its solved resolver, kept in step with its source tree."""

    def __init__(self, ref: FrameworkRef, root: Path, jobs: int | None = None,
                 progress: Callable | None = None) -> None:
        self.ref, self.root, self.path = ref, root, index_path(ref)
        self.jobs, self.progress = jobs, progress
        self.py = None

    def open(self, force: bool = False) -> IndexReport:
        """Bring the stored index up to date (as `infernav index` does) and hold its solved state."""
        keep: dict = {}
        stamps = self._stamps([p for p, *_ in _scan(self.root, self.ref.index_roots(self.root), [])])
        report = build(self.ref, self.root, force=force, jobs=self.jobs, progress=self.progress, keep=keep)
        if "py" not in keep:             # it was up to date: solve its stored facts here
            self._resolve_stored(keep)
        self._hold(keep, stamps)
        return report

    def _resolve_stored(self, keep: dict) -> None:
        from . import reuse
        from .resolve import resolve

        conn = store.connect(self.path)
        try:
            states = store.file_states(conn)
            part = reuse.stored_cpp(conn, reuse.cpp_key(self.ref, states, list(states), []))
            facts = store.all_facts(conn)
        finally:
            conn.close()
        resolve(facts, self.ref.settings, cpp=part, keep=keep)

    def _hold(self, keep: dict, stamps: dict) -> None:
        conn = store.connect(self.path)
        try:
            self.states, self.meta = store.file_states(conn), store.read_meta(conn)
        finally:
            conn.close()
        self.py, self.links, self.graph = keep["py"], keep["links"], keep["graph"]
        self.fi_of = {f["path"]: fi for fi, f in enumerate(self.py.files)}
        self.stamps = stamps              # taken before the build: what changed during it is seen next
        self._replaced = set(self.py.flow.replaced)
        self._log_base = len(self.py.flow.s.log)
        self._record_sites()

    def _record_sites(self) -> None:
        """Each call site's share of the graph, so that a site reported again replaces its own."""
        py, g = self.py, self.graph
        edges, n_unresolved, resolved, unresolved = py.report_base
        self.base = (edges, list(g.unresolved_sites[:n_unresolved]), resolved, unresolved)
        self.sites = py.shares
        self.edge_count = Counter(e for share in self.sites.values() for e in share[0])
        self.unresolved_count = Counter(u for share in self.sites.values() for u in share[1])
        self.counts = [sum(share[2] for share in self.sites.values()), sum(share[3] for share in self.sites.values())]

    def _stamps(self, paths: list[str]) -> dict[str, tuple]:
        """What says a file may have changed without reading it: size, mtime, ctime, inode (ctime
        too: an edit whose mtime was put back still moves it)."""
        out = {}
        for rel in paths:
            try:
                st = os.stat(self.root / rel)
                out[rel] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            except OSError:
                out[rel] = None
        return out

    def refresh(self) -> IndexReport | None:
        """Index what changed since the last refresh; None when nothing did."""
        t0 = time.perf_counter()
        scanned = _scan(self.root, self.ref.index_roots(self.root), [])
        paths = [p for p, *_ in scanned]
        stamps = self._stamps(paths)
        if stamps == self.stamps:
            return None
        moved = [p for p in paths if stamps[p] != self.stamps.get(p)]
        why = self._why_not_in_place(paths, moved)
        if why:
            return self._rebuild(why, t0)
        report = IndexReport(self.ref.key, self.path, "incremental", files=len(scanned))
        report.seconds["scan"] = time.perf_counter() - t0
        done = self._in_place(moved, scanned, report)
        if isinstance(done, str):
            return self._rebuild(done, t0)
        self.stamps = stamps
        report.seconds["total"] = time.perf_counter() - t0
        return report

    def worn(self) -> bool:
        """Whether the provenance log has grown past twice its size after the last whole solve:
        what a re-solve takes back stays in it, marked dead, so memory grows with every edit
        (40 re-solves that dissolve the classes took vLLM's process from 1.8 to 3.9 GB)."""
        return self.py is not None and len(self.py.flow.s.log) > 2 * self._log_base

    def renew(self) -> IndexReport:
        """The state made again from the stored index (up to date), the old state freed first."""
        self._release()
        return self.open()

    def _release(self) -> None:
        """Free the held state now: the value flow's hooks are closures over it, cycles the
        frozen collector never walks (gcpause), so they are broken by hand."""
        if self.py is not None:
            self.py.release()
        self.py = self.graph = self.sites = None

    def index_now(self) -> IndexReport:
        """refresh()'s report, or an up-to-date one where nothing changed (what `infernav index`
        says)."""
        t0 = time.perf_counter()
        report = self.refresh()
        if report is not None:
            return report
        report = IndexReport(self.ref.key, self.path, "up-to-date", files=len(self.states),
                             symbols=len(self.graph.symbols), edges=len(self.graph.edges))
        report.parse_error_files = [p for p in self.meta.get("parse_error_files", "").split("\n") if p]
        report.seconds["total"] = time.perf_counter() - t0
        return report

    def _why_not_in_place(self, paths: list[str], moved: list[str]) -> str:
        from .parse.languages import resolver_of

        if set(paths) != set(self.states):
            return "files were added or removed"
        for rel in moved:
            if resolver_of(self.states[rel][0]) != "python" or rel not in self.fi_of:
                return f"{rel} is not a Python file of the value flow"
        return ""

    def _rebuild(self, why: str, t0: float) -> IndexReport:
        """The change indexed as `infernav index` would, and the state made again from it."""
        self._release()
        report = self.open()
        report.reason = report.reason or f"whole value flow re-solved: {why}"
        report.seconds["total"] = time.perf_counter() - t0
        return report

    def _in_place(self, moved: list[str], scanned: list, report: IndexReport) -> str | None:
        """The moved files re-parsed and their edits re-solved in place; a reason where that
        cannot be done (the caller then rebuilds: nothing here has been written yet)."""
        t1 = time.perf_counter()
        parsed = _parse_many(self.root, self._todo(moved, scanned), 1, None)
        report.parsed = len(parsed)
        report.seconds["parse"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        rows, sites, moved_symbols = [], set(), []
        from .resolve.python_incremental import update_file

        for rel, lang, digest, size, mtime, errors, blob, why in parsed:
            if why or blob is None:
                return f"{rel}: {why or 'unreadable'}"
            rows.append((rel, lang, digest, size, mtime, errors, blob))
            if digest == self.states[rel][1]:
                continue
            fi = self.fi_of[rel]
            facts = marshal.loads(blob)
            if facts == self.py.files[fi]:
                continue
            old_defs, old_calls = self.py.files[fi]["defs"], len(self.py.files[fi]["calls"])
            why: list[str] = []
            if not update_file(self.py.flow, fi, facts, report.seconds, sites, why):
                return f"{rel}: {why[0]}"
            sites.update(("site", fi, k) for k in range(max(old_calls, len(facts["calls"]))))
            moved_symbols += self._move_symbols(fi, old_defs, facts["defs"])
        report.seconds["resolve"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        self._write(rows, sites, moved_symbols, report)
        report.seconds["store"] = time.perf_counter() - t3
        return None

    def _todo(self, moved: list[str], scanned: list) -> list[tuple]:
        modules = _module_names([p for p, *_ in scanned])
        context = {**self.ref.parse_context(), "fingerprint": _context_fingerprint(self.ref)}
        langs = {p: lang for p, lang, *_ in scanned}
        return [(rel, langs[rel], dict(context, lang=langs[rel], module=modules.get(rel, ("", False))[0],
                                       is_package=modules.get(rel, ("", False))[1])) for rel in moved]

    def _move_symbols(self, fi: int, old: list[dict], new: list[dict]) -> list:
        """The file's symbols whose lines moved, given their new lines (same ids: an edit in place
        keeps what the file defines)."""
        from dataclasses import replace

        out = []
        for di, (a, b) in enumerate(zip(old, new)):
            sid = self.py.local_sym[fi][di]
            if sid is not None and (a["line"], a["end"]) != (b["line"], b["end"]):
                sym = self.graph.symbols[sid] = replace(self.graph.symbols[sid], line=b["line"], end=b["end"])
                out.append(sym)
        return out

    def _write(self, rows: list[tuple], sites: set, moved_symbols: list, report: IndexReport) -> None:
        """Report the sites again, and write the files' rows with what the graph gained and lost."""
        g, py = self.graph, self.py
        if py.flow.replaced != self._replaced:   # a def's decorated value: any site may read it
            sites = {("site", fi, k) for fi, k in self.sites}
        self._replaced = set(py.flow.replaced)
        nothing = ((), (), 0, 0)
        for _site, fi, k in sites:
            calls = py.files[fi]["calls"]
            old = self.sites.pop((fi, k), nothing)
            new = py.site_share(self.links, fi, k, calls[k]) if k < len(calls) else nothing
            if k < len(calls):                   # a call the edit removed has no share
                self.sites[(fi, k)] = new
            self.edge_count.subtract(old[0])
            self.edge_count.update(new[0])
            self.unresolved_count.subtract(old[1])
            self.unresolved_count.update(new[1])
            self.counts[0] += new[2] - old[2]
            self.counts[1] += new[3] - old[3]
        edges = self.base[0] | {e for e, n in self.edge_count.items() if n > 0} | py.extra_edges()
        unresolved = set(self.base[1]) | {u for u, n in self.unresolved_count.items() if n > 0}
        gone_edges, new_edges = g.edges - edges, edges - g.edges
        old_unresolved = set(g.unresolved_sites)
        g.edges, g.unresolved_sites = edges, list(unresolved)
        g.resolved_calls, g.unresolved = self.base[2] + self.counts[0], self.base[3] + self.counts[1]
        self.meta = self._meta(rows, report)
        store.write_delta(self.path, self.meta, rows, moved_symbols, (gone_edges, new_edges),
                          (old_unresolved - unresolved, unresolved - old_unresolved))
        for rel, lang, digest, size, mtime, _errors, _blob in rows:
            self.states[rel] = (lang, digest, size, mtime)
        report.symbols, report.edges = len(g.symbols), len(g.edges)
        report.reused = [f"value flow re-solved in place ({len(sites)} call sites reported again)"]

    def _meta(self, rows: list[tuple], report: IndexReport) -> dict:
        g = self.graph
        errors = {p for p in self.meta.get("parse_error_files", "").split("\n") if p}
        for rel, _lang, _digest, _size, _mtime, n_errors, _blob in rows:
            (errors.add if n_errors else errors.discard)(rel)
        report.parse_error_files = sorted(errors)
        return {**self.meta, "edges": len(g.edges), "resolved_calls": g.resolved_calls,
                "unresolved_calls": g.unresolved, "parse_error_files": "\n".join(sorted(errors)),
                "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

