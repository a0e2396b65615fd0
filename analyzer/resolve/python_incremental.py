"""Re-solving one file's part of the value flow in place: DRed over the provenance log
(python_provenance), the second piece of an incremental solver (NOTES "Session 9").

`resolve_file_again(flow, fi)` takes back file fi's build and everything it made (over-deletion:
the hooks, decisions and watchers it registered go with all they made; a variable that lost a
constraint is reset with its copy successors; a hook or decision on a reset variable keeps its
registration but loses its work), builds the file again, gives the reset variables back what the
surviving constraints give them, and solves to the fixpoint. The Flow's answers are rebuilt from
the surviving `note`s and what the re-solve notes again.

Not handled yet (the function says so by returning False before changing anything): a cone that
resets a variable that united containers into a class (union-find cannot be taken back one
union at a time; about a third of vLLM's files reach the one giant component of them), and edits that change what a
file defines or binds (symbol ids and declared variables would change). An edit that only moves
code (other positions and lines) is handled by moving the declared bindings (python_shift). The
solved Flow lives on between edits in a live index (analyzer/live.py, `infernav index --watch`).
"""
from __future__ import annotations

from .python_apply import keep_target
from .python_provenance import CLASSES as _CLASS_CAUSE, LoggingSolver, answer_item, cone as _cone
from .python_shift import declared_of, position_map, shift_declared

NOT_A_SHIFT = "the edit changes what the file defines or binds"
CLASSES = "its cone resets a variable that united containers into a class"


def update_file(flow, fi: int, facts: dict, seconds: dict | None = None, sites: set | None = None,
                why: list | None = None) -> bool:
    """File fi's facts replaced by `facts` and its part of the flow re-solved in place, where the
    edit changes calls inside bodies, and moves code without changing what it binds
    (python_shift: the declared bindings move to their new positions). False, with the Flow
    unchanged, where it changes more, or the cone resets a class-making variable; the caller then
    solves afresh; `why`, if given, gets the reason (NOT_A_SHIFT or CLASSES). `sites`:
    resolve_file_again's."""
    old = flow.files[fi]
    shift = None
    if not _calls_only(old, facts):
        shift = position_map(old, facts)
        try:
            if shift is None:
                raise KeyError
            shift_declared(flow, fi, shift, facts)
        except KeyError:         # or a stored position the shift does not pair: not a shift after all
            if why is not None:
                why.append(NOT_A_SHIFT)
            return False
    flow.files[fi] = facts
    if resolve_file_again(flow, fi, seconds, sites):
        return True
    if why is not None:
        why.append(CLASSES)
    flow.files[fi] = old
    if shift is not None:
        shift_declared(flow, fi, shift.inverse(), old)
    return False


def _calls_only(old: dict, new: dict) -> bool:
    """Whether the two facts of a file differ in their call sites alone (what they call, and
    with what), and not in what the declare pass reads of those sites."""
    from .python_eval import update_writes

    if {k: v for k, v in old.items() if k not in ("calls", "flow", "errors")} != \
            {k: v for k, v in new.items() if k not in ("calls", "flow", "errors")}:
        return False
    fo, fn = old.get("flow") or {}, new.get("flow") or {}
    if {k: v for k, v in fo.items() if k != "sites"} != {k: v for k, v in fn.items() if k != "sites"}:
        return False
    so, sn = fo.get("sites", []), fn.get("sites", [])
    if len(so) != len(sn) or [c[0] for c in old["calls"]] != [c[0] for c in new["calls"]]:
        return False
    return all(declared_of(a) == declared_of(b) and update_writes(a) == update_writes(b) for a, b in zip(so, sn))


def resolve_file_again(flow, fi: int, seconds: dict | None = None, sites: set | None = None) -> bool:
    """Take back file fi's build, build it again from flow.files[fi], re-solve. False, with the
    Flow unchanged, where the cone resets a class-making variable. `seconds`, if given, gets each
    step's time (the prototype scans the whole log in `cone` and `take back`: see NOTES).
    `sites`, if given, gets the call-site keys whose answers may have changed: those of every
    note taken back or made again (a live index reports these sites again, analyzer/live.py)."""
    s = flow.s
    if not isinstance(s, LoggingSolver):
        raise TypeError("resolve_file_again needs a Flow solved with python_provenance.LoggingSolver")
    clock = _Clock(seconds)
    cone = _cone(s, [("file", fi, "build")])
    clock("cone")
    dissolve = _resets_an_over_variable(s, cone["reset"])
    if dissolve:
        if not DISSOLVE:
            return False
        cone = _cone(s, [("file", fi, "build"), _CLASS_CAUSE], reset_too=_class_variables(flow))
        clock("cone with every class")
    noted = _take_back(flow, cone)
    if dissolve:
        _dissolve_classes(flow)
    _evict_file(flow, fi)
    start = len(s.log)
    clock("take back")
    s.building(fi, "build")
    flow._build(fi)
    s.building(-1, "solve")
    _give_back(s, cone["reset"])
    clock("build and give back")
    s.run()
    clock("solve")
    flow.report_container_methods()
    flow.replaced = {sid for sid, (orig, dv) in flow.decorated.items()
                     if orig not in s.values_of(dv) and s.values_of(dv)}
    if sites is not None:
        sites |= noted
        sites.update(_site_of(e[2:]) for e in s.log[start:] if e[1] == "note" and _site_of(e[2:]))
    return True


def _site_of(note_args: tuple) -> tuple | None:
    """The call-site key a note is about (`("site", fi, k)`), or None."""
    item = note_args[1]
    key = item[0] if item and isinstance(item, tuple) else None
    return key if isinstance(key, tuple) and key and key[0] == "site" else None


class _Clock:
    def __init__(self, into: dict | None) -> None:
        import time

        self.into, self.now, self.t = into, time.perf_counter, time.perf_counter()

    def __call__(self, step: str) -> None:
        if self.into is not None:
            t = self.now()
            self.into[step] = round(self.into.get(step, 0) + t - self.t, 3)
            self.t = t


DISSOLVE = True      # a cone that resets a class-making variable dissolves every class and re-forms them


def _class_variables(flow) -> list[int]:
    """Every variable the container classes shape: those that united containers, those given a
    class value, those holding one (or a class's method), and the classes' pools."""
    s = flow.s
    class_values = {vid for vid, t in enumerate(s.vals) if t[0] in ("S", "cS")}
    out = set(s._over) | s._has_cls | set(flow._pools.values())
    out.update(v for pools in flow._kpools.values() for v in pools.values())
    out.update(v for v, p in enumerate(s.pts) if p and not class_values.isdisjoint(p))
    return list(out)


def _dissolve_classes(flow) -> None:
    """Every container a class of its own again (their plumbing was taken back with the
    CLASSES cause); the re-solve unites them again where the values say so."""
    s = flow.s
    s._parent.clear()
    s._members.clear()
    s._over.clear()
    s._has_cls.clear()
    flow._pools.clear()
    flow._kpools.clear()


def _resets_an_over_variable(s: LoggingSolver, reset: set[int]) -> bool:
    """Whether the cone resets a variable that united containers into a class (python_solver's
    `over`). Unions cannot be taken back one by one, so a cone is re-solved in place only where
    every union stays justified: the variables that made them keep every value they had (none is
    reset), and values only grow. Variables that merely hold class values are reset like any
    other (their class values come back through the surviving constraints), and the class
    plumbing (python_classes: pools, unions) is shared structure that stays."""
    return not reset.isdisjoint(s._over)


def _take_back(flow, cone: dict) -> set[tuple]:
    """Remove what the taken-back causes made (their log entries marked dead), reset the cone's
    variables, and correct the answers the removed notes gave; the call sites those notes were
    about."""
    s = flow.s
    sites: set[tuple] = set()
    noted: set[tuple] = set()
    for cause in cone["gone"] | cone["rerun"]:
        for pos in s.by_cause.pop(cause, ()):
            if not s.dead[pos]:
                s.dead[pos] = 1
                entry = s.log[pos]
                if entry[1] == "note" and _site_of(entry[2:]):
                    noted.add(_site_of(entry[2:]))
                _take_back_entry(flow, entry, sites)
    for did in cone["rerun"]:
        if did in s.decision_of and s.decision_of[did][2] is not None:
            s.decision_of[did][2].clear()
    for v in cone["reset"]:
        s.pts[v] = None
        s._delta.pop(v, None)
        s.cont_of.pop(v, None)
        s._has_cls.discard(v)          # given a class value again where one comes back
    for key in sites:
        _site_targets_from_notes(flow, key)
    return noted


def _take_back_entry(flow, entry: tuple, sites: set) -> None:
    s = flow.s
    _cause, op, *args = entry
    if op == "copy":
        src, dst = args
        key = (src << 32) | dst
        s.requests[key] -= 1
        if not s.requests[key]:
            del s.requests[key]
            s._edges.discard(key)
            s.succ[src].remove(dst)
            s.preds[dst].discard(src)
    elif op == "hook" and args[1] in s.hook_of:
        v, run = s.hook_of.pop(args[1])
        s.hooks[v].remove(run)
        s.hooks_on[v].remove(args[1])
    elif op == "decision" and args[0] in s.decision_of:
        run, reads, _state = s.decision_of.pop(args[0])
        s._decisions.remove(run)
        if reads is not None:
            s.deciders[reads].remove(args[0])
    elif op == "watcher" and args[0] in s.watcher_of:
        aid, run = s.watcher_of.pop(args[0])
        flow._key_watchers[aid].remove(run)
    elif op == "note":
        table, item = args
        if table == "target" and item[0][0] == "site":
            sites.add(item[0])
            return
        _forget(flow, table, item)


def _forget(flow, table: str, item: tuple) -> None:
    """One note of an answer entry taken back: the entry goes once no note gives it."""
    s = flow.s
    key = answer_item(table, item)
    s.asked[key] -= 1
    if s.asked[key]:
        return
    del s.asked[key]
    if table == "target":
        flow.extra_edges.discard(key[1])
    elif table == "external":
        got = flow.site_external.get(item[0])
        if got is not None:
            got.discard(item[1])
    elif table == "top":
        flow.site_top.discard(item[0])
    elif table == "applied":
        flow._applied.discard(item)
    elif table == "cm_report":
        flow._cm_reports.remove(item)
        got = flow.site_external.get(item[0])
        if got is not None:          # report_container_methods adds these again where still due
            for dotted in [d for d in got if d.startswith("<builtin>.") and ("external", (item[0], d)) not in s.asked]:
                got.discard(dotted)


def _site_targets_from_notes(flow, key: tuple) -> None:
    """A site's targets again from its surviving notes, in the order they were made (the first
    label wins, except that flow beats dispatch: Apply._record's rule)."""
    s = flow.s
    alive = [p for p in s.notes_at.get(key, ()) if not s.dead[p]]
    s.notes_at[key] = alive
    cur: dict = {}
    for pos in alive:
        _k, _caller, _line, sid, label, via = s.log[pos][3]
        keep_target(cur, sid, label, via)
    for sid in flow.site_targets.get(key, ()):
        flow.site_dispatched.discard((key, sid))
    flow.site_targets[key] = cur
    for pos in alive:
        _k, _caller, _line, sid, label, _via = s.log[pos][3]
        if label == "dispatch":
            flow.site_dispatched.add((key, sid))


def _evict_file(flow, fi: int) -> None:
    """Memo entries of the file's own call sites (its build makes them again)."""
    for key in [k for k in flow.site_res if k[0] == fi]:
        del flow.site_res[key]
    for key in [k for k in flow._iters if k[1] is not None and len(k[1]) > 1 and k[1][1] == fi]:
        del flow._iters[key]


def _give_back(s: LoggingSolver, reset: set[int]) -> None:
    """The reset variables get again what the surviving constraints give them: explicit values,
    and the values of their copy predecessors outside the cone (those inside refill and pass on)."""
    for v in reset:
        at = [p for p in s.adds_to.get(v, ()) if not s.dead[p]]
        if at:
            s.adds_to[v] = at
            for pos in at:
                s._push(v, s.log[pos][3])
        else:
            s.adds_to.pop(v, None)
        for src in s.preds.get(v, ()):
            if src not in reset:
                p = s.pts[src]
                if p:
                    s._push(v, p)
