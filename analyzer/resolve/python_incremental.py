"""Re-solving one file's part of the value flow in place: DRed over the provenance log
(python_provenance), the second piece of an incremental solver (NOTES "Session 9").

`resolve_file_again(flow, fi)` takes back file fi's build and everything it made (over-deletion:
the hooks, decisions and watchers it registered go with all they made; a variable that lost a
constraint is reset with its copy successors; a hook or decision on a reset variable keeps its
registration but loses its work), builds the file again, gives the reset variables back what the
surviving constraints give them, and solves to the fixpoint. The Flow's answers are rebuilt from
the surviving `note`s and what the re-solve notes again.

Not handled yet (the function says so by returning False before changing anything): a cone that
reaches a container class (union-find cannot be taken back one union at a time), which about
half of vLLM's files do (bench/results/flow_provenance_vllm.json). Nothing in `infernav index`
calls this yet: the file's facts must be the same symbols and declarations (a body edit), and
the solved Flow must live on between edits (a resident process) or be stored.
"""
from __future__ import annotations

from .python_provenance import SHARED, LoggingSolver

_CLASS_KINDS = ("S", "cS")


def resolve_file_again(flow, fi: int, seconds: dict | None = None) -> bool:
    """Take back file fi's build, build it again from flow.files[fi], re-solve. False, with the
    Flow unchanged, where the cone reaches a container class. `seconds`, if given, gets each
    step's time (the prototype scans the whole log in `cone` and `take back`: see NOTES)."""
    s = flow.s
    if not isinstance(s, LoggingSolver):
        raise TypeError("resolve_file_again needs a Flow solved with python_provenance.LoggingSolver")
    clock = _Clock(seconds)
    cone = _cone(s, [("file", fi, "build")])
    clock("cone")
    if _reaches_classes(s, cone["reset"]):
        return False
    _take_back(flow, cone)
    _evict_file(flow, fi)
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
    return True


class _Clock:
    def __init__(self, into: dict | None) -> None:
        import time

        self.into, self.now, self.t = into, time.perf_counter, time.perf_counter()

    def __call__(self, step: str) -> None:
        if self.into is not None:
            t = self.now()
            self.into[step] = round(self.into.get(step, 0) + t - self.t, 3)
            self.t = t


def _cone(s: LoggingSolver, causes: list[tuple]) -> dict:
    """Over-deletion (as python_provenance.over_deletion, plus decisions: one that reads a reset
    variable loses its work and its state)."""
    by_cause: dict[tuple, list] = {}
    hooks_on: dict[int, list[tuple]] = {}
    for entry in s.log:
        by_cause.setdefault(entry[0], []).append(entry)
        if entry[1] == "hook":
            hooks_on.setdefault(entry[2], []).append(entry[3])
    deciders: dict[int, list[tuple]] = {}
    for did, (_run, reads, _state) in s.decision_of.items():
        if reads is not None:
            deciders.setdefault(reads, []).append(did)
    gone: set[tuple] = set()
    rerun: set[tuple] = set()
    reset: set[int] = set()
    todo = [(c, True) for c in causes]
    while todo:
        cause, whole = todo.pop()
        if cause == SHARED or cause in gone or (not whole and cause in rerun):
            continue
        (gone if whole else rerun).add(cause)
        stack = []
        for _c, op, *args in by_cause.get(cause, ()):
            if op == "add":
                stack.append(args[0])
            elif op == "copy":
                stack.append(args[1])
            elif op == "hook":
                todo.append((args[1], True))
            elif op in ("decision", "watcher"):
                todo.append((args[0], True))
        while stack:
            v = stack.pop()
            if v in reset:
                continue
            reset.add(v)
            stack.extend(s.succ.get(v, ()))
            todo.extend((h, False) for h in hooks_on.get(v, ()))
            todo.extend((d, False) for d in deciders.get(v, ()))
    return {"gone": gone, "rerun": rerun - gone, "reset": reset}


def _reaches_classes(s: LoggingSolver, reset: set[int]) -> bool:
    if not s._members:
        return False
    if not reset.isdisjoint(s._over) or not reset.isdisjoint(s._has_cls):
        return True
    merged = {aid for members in s._members.values() for aid in members}
    for v in reset:
        for x in s.pts[v] or ():
            t = s.vals[x]
            if t[0] in _CLASS_KINDS or (t[0] == "s" and t[1] in merged):
                return True
    return False


def _take_back(flow, cone: dict) -> None:
    """Remove what the taken-back causes made; reset the cone's variables; rebuild the answers
    from the notes that survive."""
    s = flow.s
    taken = cone["gone"] | cone["rerun"]
    kept = [e for e in s.log if e[0] not in taken]
    still = {(e[2], e[3]) for e in kept if e[1] == "copy"}
    for entry in s.log:
        if entry[0] not in taken:
            continue
        op = entry[1]
        if op == "copy":
            src, dst = entry[2], entry[3]
            key = (src << 32) | dst
            if (src, dst) not in still and key in s._edges:
                s._edges.discard(key)
                s.succ[src].remove(dst)
        elif op == "hook" and entry[3] in s.hook_of:
            v, run = s.hook_of.pop(entry[3])
            s.hooks[v].remove(run)
        elif op == "decision" and entry[2] in s.decision_of:
            s._decisions.remove(s.decision_of.pop(entry[2])[0])
        elif op == "watcher" and entry[2] in s.watcher_of:
            aid, run = s.watcher_of.pop(entry[2])
            flow._key_watchers[aid].remove(run)
    s.log = kept
    for did in cone["rerun"]:
        if did in s.decision_of and s.decision_of[did][2] is not None:
            s.decision_of[did][2].clear()
    for v in cone["reset"]:
        s.pts[v] = None
        s._delta.pop(v, None)
        s.cont_of.pop(v, None)
    _answers_from_notes(flow)


def _answers_from_notes(flow) -> None:
    flow.site_targets, flow.site_dispatched, flow.extra_edges = {}, set(), set()
    flow.site_external, flow.site_top, flow._cm_reports, flow._applied = {}, set(), [], set()
    for _cause, op, *args in flow.s.log:
        if op != "note":
            continue
        table, entry = args
        if table == "target":
            key, caller, line, sid, label, via = entry
            if key[0] == "site":
                cur = flow.site_targets.setdefault(key, {})
                if sid not in cur or (cur[sid][0] == "dispatch" and label == "flow"):
                    cur[sid] = (label, via)
                if label == "dispatch":
                    flow.site_dispatched.add((key, sid))
            else:
                flow.extra_edges.add((caller, sid, line, label, via))
        elif table == "external":
            flow.site_external.setdefault(entry[0], set()).add(entry[1])
        elif table == "top":
            flow.site_top.add(entry[0])
        elif table == "cm_report":
            flow._cm_reports.append(entry)
        elif table == "applied":
            flow._applied.add(entry)


def _evict_file(flow, fi: int) -> None:
    """Memo entries of the file's own call sites (its build makes them again)."""
    for key in [k for k in flow.site_res if k[0] == fi]:
        del flow.site_res[key]
    for key in [k for k in flow._iters if k[1] is not None and len(k[1]) > 1 and k[1][1] == fi]:
        del flow._iters[key]


def _give_back(s: LoggingSolver, reset: set[int]) -> None:
    """The reset variables get again what the surviving constraints give them: explicit values,
    and the values of their copy predecessors outside the cone (those inside refill and pass on)."""
    for _cause, op, *args in s.log:
        if op == "add" and args[0] in reset:
            s._push(args[0], args[1])
    for src, dsts in s.succ.items():
        if src in reset:
            continue
        p = s.pts[src]
        if p:
            for dst in dsts:
                if dst in reset:
                    s._push(dst, p)
