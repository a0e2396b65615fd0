"""Provenance of the Python value flow: which cause made each constraint.

The first piece of an incremental solver (NOTES "Session 9"): to re-solve only what a one-file
edit reaches, the constraints that file's build made, and everything derived from them, must be
found and taken back. `LoggingSolver` records every constraint with its cause:
  - ('file', fi, phase): file fi's declare, passthrough or build pass (`Solver.building`);
  - ('hook', n): the n-th hook, while it runs on the values of its variable (hooks a hook
    registers, and their work, are theirs);
  - ('decision', n), ('watcher', n): a decision at a fixpoint, a container's key watcher;
  - ('solve',): what the solver's fixpoint rounds do outside any of these;
  - ('shared',): memoized structure made once for all its users (an attribute load's variable
    and hook, an element variable, a constant's variable, a slice): no user owns it, so taking a
    user back leaves it (what its hooks make belongs to those hooks).
A constraint is an explicit `add` (values into a variable), a `copy` edge, a hook, a decision or a
watcher registered, or an entry `note`d into one of the Flow's answers. What propagation implies
(values along edges, a decision's held adds) is not a constraint and is not logged.

`replay` checks that the log is complete: a plain Solver that applies every logged add and copy
edge, with no hook at all, reaches the same values in every variable (containers of a merged
class counted by class: see `_canonical`), and the noted entries rebuild the Flow's site targets,
outside names and implicit edges (tests/test_flow_provenance.py).
Nothing here is used by `infernav index` yet; Flow.solver_class selects it.
"""
from __future__ import annotations

from typing import Callable, Iterable

from .python_apply import keep_target
from .python_solver import Solver


SHARED = ("shared",)      # memoized structure made once for every user: never taken back
CLASSES = ("classes",)    # container-class plumbing: taken back only with every class (python_incremental)


class LoggingSolver(Solver):
    """A Solver that logs every constraint with its cause, and keeps the indexes a re-solve of
    part of the program needs to find and take back what a cause made without scanning the log:
    entry positions per cause, per target variable (adds) and per answer key (notes), copy
    predecessors, how many causes ask for each edge and each answer entry, the hooks and
    decisions on each variable. A taken-back entry is marked dead in place."""

    def __init__(self) -> None:
        super().__init__()
        self.cause: tuple = ("solve",)
        self.log: list[tuple] = []        # (cause, op, *args)
        self.dead = bytearray()           # log position -> taken back
        self.by_cause: dict[tuple, list[int]] = {}
        self.adds_to: dict[int, list[int]] = {}
        self.preds: dict[int, set[int]] = {}
        self.requests: dict[int, int] = {}            # edge key -> causes asking for it
        self.hooks_on: dict[int, list[tuple]] = {}
        self.deciders: dict[int, list[tuple]] = {}
        self.notes_at: dict[tuple, list[int]] = {}    # site key -> its 'target' note positions
        self.asked: dict[tuple, int] = {}             # answer entry -> notes giving it
        self._count = {"hook": 0, "decision": 0, "watcher": 0}
        # What a re-solve needs to take a trigger back: hook -> (variable, its runner), decision ->
        # (runner, the variable it reads, its state), watcher -> (container, runner).
        self.hook_of: dict[tuple, tuple] = {}
        self.decision_of: dict[tuple, tuple] = {}
        self.watcher_of: dict[tuple, tuple] = {}

    def _log(self, entry: tuple) -> int:
        pos = len(self.log)
        self.log.append(entry)
        self.dead.append(0)
        at = self.by_cause.get(entry[0])
        if at is None:
            self.by_cause[entry[0]] = [pos]
        else:
            at.append(pos)
        return pos

    def _new(self, kind: str) -> tuple:
        n = self._count[kind]
        self._count[kind] = n + 1
        return (kind, n)

    def _within(self, cause: tuple, fn: Callable) -> Callable:
        def run(*args):
            outer, self.cause = self.cause, cause
            try:
                return fn(*args)
            finally:
                self.cause = outer
        return run

    def building(self, fi: int, phase: str) -> None:
        self.cause = ("file", fi, phase) if fi >= 0 else ("solve",)

    def add(self, v: int, vals: Iterable[int]) -> None:
        vals = tuple(vals)
        self.adds_to.setdefault(v, []).append(self._log((self.cause, "add", v, vals)))
        self._push(v, vals)

    def add1(self, v: int, vid: int) -> None:
        """Logged even when v holds vid already: another cause may be what put it there."""
        self.adds_to.setdefault(v, []).append(self._log((self.cause, "add", v, (vid,))))
        self._push(v, (vid,))

    def copy(self, src: int, dst: int) -> None:
        """Logged at every request, not only the first: the edge must outlive the cause that
        made it while another cause still asks for it."""
        if src == dst:
            return
        self._log((self.cause, "copy", src, dst))
        key = (src << 32) | dst
        self.requests[key] = self.requests.get(key, 0) + 1
        if key not in self._edges:
            self.preds.setdefault(dst, set()).add(src)
        super().copy(src, dst)

    def hook(self, v: int, fn: Callable[[set[int]], None]) -> None:
        me = self._new("hook")
        self._log((self.cause, "hook", v, me))
        run = self._within(me, fn)
        self.hook_of[me] = (v, run)
        self.hooks_on.setdefault(v, []).append(me)
        super().hook(v, run)

    def at_fixpoint(self, fn: Callable[[], None], reads: int | None = None, state: set | None = None) -> None:
        me = self._new("decision")
        self._log((self.cause, "decision", me))
        run = self._within(me, fn)
        self.decision_of[me] = (run, reads, state)
        if reads is not None:
            self.deciders.setdefault(reads, []).append(me)
        super().at_fixpoint(run)

    def watcher(self, fn: Callable, aid: int) -> Callable:
        me = self._new("watcher")
        self._log((self.cause, "watcher", me))
        run = self._within(me, fn)
        self.watcher_of[me] = (aid, run)
        return run

    def shared(self) -> object:
        before, self.cause = self.cause, SHARED
        return before

    def class_structure(self) -> object:
        before, self.cause = self.cause, CLASSES
        return before

    def owned_by(self, fi: int) -> object:
        before, self.cause = self.cause, ("file", fi, "build")
        return before

    def restore(self, before: object) -> None:
        self.cause = before

    def note(self, table: str, entry: tuple) -> None:
        pos = self._log((self.cause, "note", table, entry))
        if table == "target" and entry[0][0] == "site":
            self.notes_at.setdefault(entry[0], []).append(pos)
        else:
            item = answer_item(table, entry)
            self.asked[item] = self.asked.get(item, 0) + 1


def answer_item(table: str, entry: tuple) -> tuple:
    """The entry of the Flow's answers a note (other than a site's target) stands for."""
    if table == "target":                      # an implicit call or a decorator: an extra edge
        key, caller, line, sid, label, via = entry
        return ("extra", (caller, sid, line, label, via))
    return (table, entry)


def replay(flow) -> dict:
    """Rebuild what `flow` (solved with a LoggingSolver) found from its log alone: every
    variable's values, by a plain Solver given the logged adds and copy edges and no hooks, and
    the answers from the noted entries. Returns the differences (empty when the log is complete)."""
    s: LoggingSolver = flow.s
    r = Solver()
    r.vals, r._val_id, r.minor, r._containers = list(s.vals), dict(s._val_id), bytearray(s.minor), set(s._containers)
    r.merge_at = s.merge_at
    for _ in range(len(s.pts)):
        r.var()
    notes: dict[str, list] = {"target": [], "top": [], "external": [], "cm_report": [], "applied": []}
    for i, (cause, op, *args) in enumerate(s.log):
        if s.dead[i]:
            continue
        if op == "add":
            r._push(args[0], args[1])
        elif op == "copy":
            r.copy(args[0], args[1])
        elif op == "note":
            notes[args[0]].append(args[1])
    r.run()
    exact = [v for v in range(len(s.pts)) if (s.pts[v] or set()) != (r.pts[v] or set())]
    differ = [v for v in exact if _canonical(s, s.pts[v]) != _canonical(r, r.pts[v])]
    return {"variables": differ, "variables_not_exact": len(exact), **_answers_differ(flow, notes)}


def _canonical(s: Solver, vals) -> frozenset:
    """Values with each container of a merged class, and each class value, named by the class's
    smallest member. Which member containers a variable lists beside its class's value depends on
    the order they arrived before the class formed (an `over` variable keeps those that came
    first), and which member is a class's root on the order of the unions; what reads find does
    not: a read through the class value reads every member."""
    out = set()
    for x in vals or ():
        t = s.vals[x]
        if t[0] in ("s", "S", "cS"):
            members = s.members(s.find(t[1]))
            if t[0] != "s" or len(members) > 1:
                out.add(("S", min(members)) if t[0] != "cS" else ("cS", min(members), t[2]))
                continue
        out.add(t)
    return frozenset(out)


def _answers_differ(flow, notes: dict) -> dict:
    targets: dict = {}
    extra = set()
    for key, caller, line, sid, label, via in notes["target"]:
        if key[0] == "site":
            cur = targets.setdefault(key, {})
            keep_target(cur, sid, label, via)
        else:
            extra.add((caller, sid, line, label, via))
    external: dict = {}
    for key, dotted in notes["external"]:
        external.setdefault(key, set()).add(dotted)
    return {
        "site_targets": targets != flow.site_targets,
        "extra_edges": extra != flow.extra_edges,
        # python_calls adds the sites it cuts for too many targets after the solve
        "site_top": not {k for (k,) in notes["top"]} <= flow.site_top,
        "site_external": not _externals_match(flow, external),
        "cm_reports": notes["cm_report"] != flow._cm_reports,
    }


def _externals_match(flow, noted: dict) -> bool:
    """The noted outside names are the final ones, but for the `<builtin>.<kind>.<method>` names
    report_container_methods adds after the solve (from the final classes, not from a hook)."""
    reported = {key for key, _root, _name in flow._cm_reports}
    for key, final in flow.site_external.items():
        got = noted.get(key, set())
        extra = final - got
        if not got <= final or (extra and (key not in reported or any(not x.startswith("<builtin>.") for x in extra))):
            return False
    return noted.keys() <= flow.site_external.keys()


def cone(s: LoggingSolver, causes: Iterable[tuple], include_shared: bool = False,
         reset_too: Iterable[int] = ()) -> dict:
    """What taking back `causes` (and everything they made) forces a re-solve to redo: DRed's
    over-deletion. Taking back a cause removes what it logged; a hook, decision or watcher it
    registered goes with all it made (`gone`). A variable that lost a constraint may lose values,
    so it is `reset`, and so are its copy successors; a hook or decision on a reset variable keeps
    its registration but loses what it made (`rerun`: it runs again on the values that come
    back). Shared structure is never taken back (unless `include_shared`: a completeness check).
    `reset_too`: variables reset as well (bench/flow_provenance.py: every container class)."""
    gone: set[tuple] = set()
    rerun: set[tuple] = set()
    reset: set[int] = set()
    log, dead = s.log, s.dead
    todo = [(c, True) for c in causes]
    extra = list(reset_too)
    while todo or extra:
        if extra:
            _reset_from(s, extra, reset, todo)
            extra = []
            continue
        cause, whole = todo.pop()
        if (cause == SHARED and not include_shared) or cause in gone or (not whole and cause in rerun):
            continue
        (gone if whole else rerun).add(cause)
        stack = []
        for pos in s.by_cause.get(cause, ()):
            if dead[pos]:
                continue
            _c, op, *args = log[pos]
            if op == "add":
                stack.append(args[0])
            elif op == "copy":
                stack.append(args[1])
            elif op == "hook":
                todo.append((args[1], True))
            elif op in ("decision", "watcher"):
                todo.append((args[0], True))
        _reset_from(s, stack, reset, todo)
    return {"gone": gone, "rerun": rerun - gone, "reset": reset}


def _reset_from(s: LoggingSolver, stack: list[int], reset: set[int], todo: list) -> None:
    """Reset the variables on `stack` and their copy successors; their hooks and decisions run again."""
    while stack:
        v = stack.pop()
        if v in reset:
            continue
        reset.add(v)
        stack.extend(s.succ.get(v, ()))
        todo.extend((h, False) for h in s.hooks_on.get(v, ()))
        todo.extend((d, False) for d in s.deciders.get(v, ()))


def over_deletion(s: LoggingSolver, causes: Iterable[tuple], include_shared: bool = False) -> dict:
    """cone()'s sizes: the reset variables, the causes taken back whole, the hooks and decisions
    that run again, and the answer notes removed."""
    got = cone(s, causes, include_shared)
    notes = sum(1 for c in got["gone"] | got["rerun"] for pos in s.by_cause.get(c, ())
                if not s.dead[pos] and s.log[pos][1] == "note")
    return {"reset_vars": len(got["reset"]), "causes_gone": len(got["gone"]), "hooks_rerun": len(got["rerun"]),
            "notes_removed": notes}
