"""Python call resolution: a call's callee chain evaluated in its scope; classes called construct
(edge to `__init__`); methods reached through an inferred receiver fan out to subclass overrides;
instances of classes with `__call__`/`forward` are callable (torch modules)."""
from __future__ import annotations

import re
from functools import lru_cache

from .graph import COMMON_METHOD_NAMES, MAX_NAME_CANDIDATES

_ASSUMED_CALLABLE_METHODS = ("__call__", "forward")  # torch.nn.Module instances call forward()
# A call site the value flow says reaches more defs than this gets none of them: it is kept as an
# unresolved 'too-many' site (a context-insensitive analysis merges the callers of shared helpers,
# and past a handful of targets the list is mostly that merge, not what the site calls). Not
# counted: the overrides a virtual call reaches (a dispatch fan-out, whatever label won) and what
# names and types found. The cut is made on the final sets, so it never depends on build order.
MAX_FLOW_TARGETS = 12
_SEG = re.compile(r"^([A-Za-z_]\w*)((?:\(\)|\[\])*)$")


@lru_cache(maxsize=None)
def split_chain(callee: str) -> tuple[tuple[str, str], ...] | None:
    """`self.a().b` -> (('self',''), ('a','()'), ('b','')); None if not a plain chain.

    Memoized: the same callee texts (`self.foo`, `torch.cat`) recur thousands of times.
    """
    if callee.startswith("super()."):
        rest = split_chain(callee[len("super()."):])
        return (("super", "()"),) + rest if rest is not None else None
    out = []
    for part in callee.split("."):
        m = _SEG.match(part)
        if m is None:
            return None
        out.append((m.group(1), m.group(2)))
    return tuple(out)


def _why_unresolved(external: set[str] | None, top: bool) -> tuple[str, str]:
    """(reason, target) of a site that reached nothing in the index: 'builtin' / 'external' with
    the dotted names it calls, 'too-many' when its callee set was cut, else 'unknown'."""
    if top:
        return "too-many", ""
    if external:
        names = sorted(external)
        reason = "builtin" if all(n.startswith("<builtin>.") for n in names) else "external"
        return reason, ",".join(names[:4])
    return "unknown", ""


class PyCalls:
    """Mixin of PyResolver: the call-resolution half (needs its symbol tables and lookups)."""

    def resolve_calls(self, links, build_order: list[int] | None = None, solver_class=None) -> None:
        """Edges for every call site; `links` (cross_language.PythonLinks) reach other languages.

        Per site, the names-and-types answer (`resolve_call`: exact/type/dispatch) and the value
        flow's (python_flow: flow, dispatch) are merged, the first's label winning where both
        found a target. A site with neither is kept as an unresolved site (with what it calls
        outside the index, if known) and gets name-only guesses, labelled `guess`, if any.
        `solver_class`: the value flow's solver (python_provenance.LoggingSolver for an index
        kept live, analyzer/live.py). What the graph held before the sites were reported is kept
        in `report_base`, so a live index can report some sites again (report_site)."""
        from .python_flow import Flow

        self.flow = Flow(self, links, solver_class).solve(build_order)
        g = self.g
        self.report_base = (set(g.edges), len(g.unresolved_sites), g.resolved_calls, g.unresolved)
        shares = getattr(self, "shares", None)
        for fi, f in enumerate(self.files):
            for k, call in enumerate(f["calls"]):
                if shares is None:
                    self.report_site(links, fi, k, call)
                    continue
                share = shares[(fi, k)] = self.site_share(links, fi, k, call)
                g.edges.update(share[0])
                g.unresolved_sites.extend(share[1])
                g.resolved_calls += share[2]
                g.unresolved += share[3]
        g.edges |= self.extra_edges()

    def site_share(self, links, fi: int, k: int, call: tuple) -> tuple:
        """(edges, unresolved rows, resolved 0/1, unresolved 0/1): what one site adds to the graph
        (a live index keeps each site's, `shares`, to replace it when the site is reported again)."""
        g = self.g
        kept = g.edges, g.unresolved_sites, g.resolved_calls, g.unresolved
        g.edges, g.unresolved_sites, g.resolved_calls, g.unresolved = set(), [], 0, 0
        try:
            self.report_site(links, fi, k, call)
            return tuple(g.edges), tuple(g.unresolved_sites), g.resolved_calls, g.unresolved
        finally:
            g.edges, g.unresolved_sites, g.resolved_calls, g.unresolved = kept

    def report_site(self, links, fi: int, k: int, call: tuple) -> None:
        """One call site's edges, unresolved-site row and counts, added to the graph."""
        from .cross_language import link_python_call

        di, line, callee, _nargs, _kind = call
        flow, g = self.flow, self.g
        src = self.local_sym[fi][di]
        if link_python_call(self, links, callee, fi, src, line, "op"):
            g.resolved_calls += 1
            return
        edges: dict[int, tuple[str, str]] = {}
        guesses = []
        for dst, res in self.resolve_call(callee, fi, di):
            if res == "guess":
                guesses.append(dst)
            elif dst not in flow.replaced:
                edges.setdefault(dst, (res, "call"))
        key = ("site", fi, k)
        found = flow.site_targets.get(key, {})
        merged = [d for d, lv in found.items()
                  if lv[0] == "flow" and d not in edges and (key, d) not in flow.site_dispatched]
        cut = len(merged) > MAX_FLOW_TARGETS    # too many to be useful: say so instead of listing them
        if cut:
            found = {d: lv for d, lv in found.items() if d not in merged}
        for dst, lv in found.items():
            edges.setdefault(dst, lv)
        if not edges and link_python_call(self, links, callee, fi, src, line, "pybind"):
            g.resolved_calls += 1
            return
        why = _why_unresolved(flow.site_external.get(key), cut or key in flow.site_top)
        if edges:
            g.resolved_calls += 1
            for dst, (res, via) in edges.items():
                g.edges.add((src, dst, line, res, via))
            if why[0] != "unknown":        # resolved, but it also calls outside the index
                g.unresolved_sites.append((src, line, callee, *why, 1))
            return
        g.unresolved += 1
        for dst in guesses:
            if dst != src:
                g.edges.add((src, dst, line, "guess", "call"))
        g.unresolved_sites.append((src, line, callee, *why, 0))

    def extra_edges(self) -> set[tuple]:
        """The value flow's edges of implicit calls (python_flow.extra_edges), but those of a
        (caller, line) that reaches more than MAX_FLOW_TARGETS defs."""
        flow = self.flow
        fanout: dict[tuple[int, int], int] = {}
        for src, _dst, line, _res, _via in flow.extra_edges:
            fanout[(src, line)] = fanout.get((src, line), 0) + 1
        return {e for e in flow.extra_edges if fanout[(e[0], e[2])] <= MAX_FLOW_TARGETS}

    def resolve_call(self, callee: str, fi: int, di: int) -> list[tuple[int, str]]:
        segs = split_chain(callee)
        if segs is None:
            return []
        symbols = self.g.symbols
        if len(segs) == 1:
            name, suffix = segs[0]
            if suffix:
                return []
            ent, inferred = self.lookup_name(name, fi, di, 0)
            receiver = None
        else:
            head = ".".join(n + s for n, s in segs[:-1])
            if head == "super()":
                recv = self._super(fi, di)
                receiver_inferred = False
            else:
                recv, receiver_inferred = self.eval_chain(head, fi, di)
            name, suffix = segs[-1]
            if suffix:
                return []
            if recv is not None and recv[0] == "super":
                ent = None
                for c in recv[1]:
                    sid = self.members[c].get(name)
                    if sid is not None:
                        ent = ("sym", sid)
                        break
                return [(ent[1], "exact")] if ent is not None else []
            if recv is None:
                return self._name_candidates(name)
            ent, inf = self.attr(recv, name)
            inferred = receiver_inferred or inf
            receiver = recv
            if ent is None:
                return self._name_candidates(name) if recv[0] == "inst" and self.unresolved_bases.get(recv[1]) else []
        if ent is None:
            return []
        label = "type" if inferred else "exact"
        out: list[tuple[int, str]] = []
        if ent[0] == "sym":
            sym = symbols[ent[1]]
            if sym.kind == "class":
                init = self.attr(("sym", ent[1]), "__init__")[0]
                target = init[1] if init is not None and init[0] == "sym" else ent[1]
                out.append((target, label))
                return out
            out.append((ent[1], label))
            if receiver is not None and receiver[0] == "inst" and sym.kind == "method":
                for sub in self.all_subclasses(receiver[1]):
                    over = self.members[sub].get(sym.short)
                    if over is not None and over != ent[1]:
                        out.append((over, "dispatch"))
            return out
        if ent[0] == "inst":
            for method in _ASSUMED_CALLABLE_METHODS:
                m = self.attr(ent, method)[0]
                if m is not None and m[0] == "sym":
                    out.append((m[1], "type"))
                    for sub in self.all_subclasses(ent[1]):
                        over = self.members[sub].get(method)
                        if over is not None and over != m[1]:
                            out.append((over, "dispatch"))
                    break
        return out

    def _name_candidates(self, name: str) -> list[tuple[int, str]]:
        if name.startswith("__") or name in COMMON_METHOD_NAMES:
            return []
        cands = self.methods_by_name.get(name, ())
        if 0 < len(cands) <= MAX_NAME_CANDIDATES:
            return [(c, "guess") for c in cands]
        return []
