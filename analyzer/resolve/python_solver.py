"""The points-to engine under Python value flow: variables, values, copy edges, hooks, a worklist.

Sparse difference propagation: each variable forwards only what it newly received, along copy
edges and to its hooks; a variable's pending delta is queued once however often it grows. (Copy
cycles were collapsed into one variable per strongly connected component in an earlier version:
on vLLM that merged 0.35 % of the variables and cost more time than it saved, so it is gone.)

Order-independent by design: the fixpoint must not depend on the order files are built in (an
incremental re-solve builds them in another order; a release diff must not see edges move because
a file sorted elsewhere). So no set is cut by arrival order: a call through a variable that holds
many callables is cut where it is reported (python_calls.MAX_FLOW_TARGETS, on the final set).

Containers are bounded by merging, not by cutting. A variable whose containers come from more
than MERGE_AT allocations (a class value counting as all its members) is `over`: what it holds
and everything that later arrives there are united into one class (union-find over allocation
ids), and it holds the class's value ('S', root) instead of more containers; the Flow's
`on_union` keeps the class's read pools (one per key: every member's element of that key) and
write pool (into every member). A member held directly anywhere else stays itself and reads its
own elements. The tuples of tensors that forward methods return and pass on would otherwise make
up most of the work. Classes only grow and the trigger only grows, so the classes at the fixpoint
are the same for every build order (a class growing elsewhere can push a variable over with
nothing arriving there: `_recheck` looks again at each fixpoint). MERGE_AT = 32 measured on
vLLM (bench/results/flow_order_merge.json and NOTES): the call graph equals the one with
containers unbounded; 4 or 8 unite unrelated containers (hundreds of false implicit calls).

A variable past HARD_CAP values holds TOP ("too many targets", which flows on like any value)
instead of more: a guard against blow-up that nothing in the pinned engines reaches (`cut` counts
the variables it cut; a cut is the one place where order could still matter).

Values are interned tuples (`value(t)` -> id); python_values.py says what they mean. Hooks are
callables run on every new value of a variable (and on the values it already holds);
`at_fixpoint(fn)` registers a decision that needs a whole fixpoint (the keys a subscript can take,
what a decorator returned): every decision runs again at each fixpoint, acting only on what is new
to it, until a round adds nothing, so what it decides never depends on when it was registered.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

TOP = 0          # value id of ('top',): the set was cut at HARD_CAP
HARD_CAP = 2000
_MINOR_KINDS = {"k": 2, "x": 1, "xi": 1, "xt": 1, "s": 3, "cm": 3, "S": 3, "cS": 3}
MERGE_AT = 32


class Solver:
    def __init__(self) -> None:
        self.vals: list[tuple] = [("top",)]
        self._val_id: dict[tuple, int] = {("top",): 0}
        self.minor = bytearray(1)          # value id -> 0, 1 outside names, 2 constants, 3 containers
        self._containers: set[int] = set()
        self.pts: list[set[int] | None] = []
        self.succ: dict[int, list[int]] = {}
        self.hooks: dict[int, list[Callable]] = {}
        self._delta: dict[int, set[int]] = {}
        self._queue: deque[int] = deque()
        self._decisions: list[Callable[[], None]] = []
        self._edges: set[int] = set()      # src << 32 | dst
        self._frozen: list | None = None   # adds held back while deferred work decides
        self.steps = 0
        self.cut = 0
        # Container classes: union-find over allocation ids (absent: a class of its own).
        self._parent: dict[int, int] = {}
        self._members: dict[int, list[int]] = {}       # root -> every allocation in its class
        self.cont_of: dict[int, set[int]] = {}         # variable -> the 's'/'S' values it holds
        self._over: dict[int, int] = {}                # variable past merge_at -> its class
        self._has_cls: set[int] = set()                # variables that were given a class value
        self.merge_at = MERGE_AT
        self.on_union: Callable[[int, int, list[int], list[int]], None] | None = None

    # ------------------------------------------------------------------ values and variables
    def value(self, t: tuple) -> int:
        vid = self._val_id.get(t)
        if vid is None:
            vid = self._val_id[t] = len(self.vals)
            self.vals.append(t)
            m = _MINOR_KINDS.get(t[0], 0)
            self.minor.append(m)
            if m == 3:
                self._containers.add(vid)
        return vid

    def var(self) -> int:
        self.pts.append(None)
        return len(self.pts) - 1

    def values_of(self, v: int) -> set[int]:
        return self.pts[v] or set()

    # ------------------------------------------------------------------ constraints
    def add1(self, v: int, vid: int) -> None:
        """v ⊇ {vid}."""
        p = self.pts[v]
        if p is not None and vid in p:
            return
        self.add(v, (vid,))

    def _push(self, v: int, vals: Iterable[int]) -> None:
        """v ⊇ vals. Called as `add` for a constraint, and as `_push` by the solver itself
        (propagation along an edge, a decision's held add: what existing constraints imply), so
        python_provenance.LoggingSolver can record the constraints alone."""
        if self._frozen is not None:
            p = self.pts[v]
            vals = tuple(vals)
            if p is None or not p.issuperset(vals):
                self._frozen.append((v, vals))
            return
        p = self.pts[v]
        if p is None:
            new = set(vals)
        elif type(vals) is set:
            new = vals - p
        else:
            new = set(vals)
            new -= p
        if not new:
            return
        if not self._containers.isdisjoint(new):
            new = self._canon(v, p, new)
            if not new:
                return
            p = self.pts[v]                # a union above may have added to v already
            if p:
                new -= p
            if not new:
                return
        if p is None:
            p = self.pts[v] = set()
        if len(p) + len(new) > HARD_CAP:
            if TOP in p:
                return
            self.cut += 1
            new = set(sorted(new)[:max(HARD_CAP - len(p), 0)]) | {TOP}
        p |= new
        d = self._delta.get(v)
        if d is None:
            self._delta[v] = new
            self._queue.append(v)
        else:
            d |= new

    add = _push        # v ⊇ vals, a constraint

    # ------------------------------------------------------------------ container classes
    def find(self, aid: int) -> int:
        parent = self._parent
        root = aid
        while root in parent:
            root = parent[root]
        while aid != root:
            nxt = parent[aid]
            parent[aid] = root
            aid = nxt
        return root

    def members(self, root: int) -> list[int]:
        return self._members.get(root) or [root]

    def union(self, a: int, b: int) -> int:
        """Unite the classes of allocations a and b; the larger class's root stays root (ties:
        the smaller id). The root only names the class: nothing reads members differently."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        ma, mb = self.members(ra), self.members(rb)
        if (len(ma), -ra) < (len(mb), -rb):
            ra, rb, ma, mb = rb, ra, mb, ma
        self._parent[rb] = ra
        self._members[ra] = ma + mb
        self._members.pop(rb, None)
        if self.on_union is not None:
            self.on_union(ra, rb, ma, mb)
        return ra

    def _canon(self, v: int, p, new: set[int]) -> set[int]:
        """The new values (a fresh set, changed in place) as v keeps them. Class values ('S',
        'cS') name their current root. A variable that holds (or would hold) containers from
        more than merge_at allocations is `over`: everything it holds and everything that
        arrives there joins one class, and it holds that class's value instead of more
        containers."""
        vals = self.vals
        arrived = None
        fix = None
        for x in new:
            t = vals[x]
            k = t[0]
            if k == "s":
                if arrived is None:
                    arrived = [x]
                else:
                    arrived.append(x)
            elif k == "S" or k == "cS":
                r = self.find(t[1])
                if r != t[1]:
                    y = self.value(("S", r) if k == "S" else ("cS", r, t[2]))
                    if fix is None:
                        fix = []
                    fix.append((x, y))
                    x = y
                if k == "S":
                    self._has_cls.add(v)
                    if arrived is None:
                        arrived = [x]
                    else:
                        arrived.append(x)
        if fix is not None:
            for x, y in fix:
                new.discard(x)
                new.add(y)
        if arrived is None:
            return new
        root = self._over.get(v)
        if root is None:
            held = self.cont_of.get(v)
            if held is None:
                held = self.cont_of[v] = set(arrived)
            else:
                held.update(arrived)
            n = len(held)
            if n < 2 or (n <= self.merge_at and v not in self._has_cls) or not self._heavy(held):
                return new
            root = self._unite(held)
            self.cont_of.pop(v, None)
        for x in arrived:
            new.discard(x)
            root = self.union(root, vals[x][1])
        self._over[v] = root = self.find(root)
        new.add(self.value(("S", root)))
        return new

    def _heavy(self, held: set[int]) -> bool:
        """Do the containers these values stand for come from more than merge_at allocations?"""
        vals, k = self.vals, self.merge_at
        seen: set[int] = set()
        for x in held:
            t = vals[x]
            if t[0] == "s":
                seen.add(t[1])
            else:
                m = self.members(self.find(t[1]))
                if len(m) > k:
                    return True
                seen.update(m)
            if len(seen) > k:
                return True
        return False

    def _unite(self, held: set[int]) -> int:
        vals = self.vals
        it = iter(sorted(vals[x][1] for x in held))
        root = next(it)
        for aid in it:
            root = self.union(root, aid)
        return self.find(root)

    def _recheck(self) -> bool:
        """At a fixpoint: a class that grew elsewhere can push a variable holding its value over
        merge_at without anything arriving there. Those become `over` too; True if any did."""
        changed = False
        for v, held in list(self.cont_of.items()):
            if len(held) > 1 and v in self._has_cls and self._heavy(held):
                root = self._over[v] = self._unite(held)
                self.cont_of.pop(v, None)
                self._push(v, (self.value(("S", root)),))
                changed = True
        return changed

    def copy(self, src: int, dst: int) -> None:
        """dst ⊇ src, from now on."""
        key = (src << 32) | dst
        if src == dst or key in self._edges:
            return
        self._edges.add(key)
        s = self.succ.get(src)
        if s is None:
            self.succ[src] = [dst]
        else:
            s.append(dst)
        p = self.pts[src]
        if p:
            self._push(dst, p)

    def hook(self, v: int, fn: Callable[[set[int]], None]) -> None:
        """Run fn(new values) for every value v holds, now and later."""
        h = self.hooks.get(v)
        if h is None:
            self.hooks[v] = [fn]
        else:
            h.append(fn)
        p = self.pts[v]
        if p:
            fn(set(p))

    def at_fixpoint(self, fn: Callable[[], None], reads: int | None = None, state: set | None = None) -> None:
        """fn at every fixpoint. `reads`: the variable it decides on; `state`: what it keeps
        between rounds (provenance: a re-solve that resets `reads` clears `state` and takes back
        what fn made)."""
        self._decisions.append(fn)

    # ------------------------------------------------------------------ provenance (no-ops here)
    def building(self, fi: int, phase: str) -> None:
        """The constraints that follow are file fi's `phase` (declare, passthrough, build)."""

    def watcher(self, fn: Callable, aid: int) -> Callable:
        """fn as a trigger of its own (a key watcher of container aid)."""
        return fn

    def shared(self) -> object:
        """What follows is shared structure (a memoized load, element, constant, slice), made
        once for every user: no one user's cause owns it. Returns what `restore` takes back to."""
        return None

    def class_structure(self) -> object:
        """What follows is container-class plumbing (python_classes: a union's pools, a class's
        read pool, an element's pool links): kept while the classes stand, taken back all at
        once where a re-solve dissolves them (python_incremental). Returns what `restore` takes."""
        return None

    def owned_by(self, fi: int) -> object:
        """What follows is file fi's structure, made once whatever runs first (a call's arguments,
        evaluated when its callee first holds something): only re-solving fi takes it back."""
        return None

    def restore(self, before: object) -> None:
        """The end of `shared` or `owned_by`."""

    def note(self, table: str, entry: tuple) -> None:
        """An entry of one of the Flow's answers (site targets, outside names, implicit edges)."""

    # ------------------------------------------------------------------ solving
    def run(self) -> None:
        """Solve; then run every decision on the fixpoint and solve again, until a round of
        decisions adds nothing. What the decisions add is held back until all of them have run, so
        each decides on the same fixpoint (their order is free) and the result is a function of the
        constraints alone."""
        while True:
            self._drain()
            if self._recheck():
                continue
            known = len(self._decisions)
            if not known:
                return
            self._frozen = []
            for fn in self._decisions[:known]:
                fn()
            held, self._frozen = self._frozen, None
            if not held and len(self._decisions) == known:
                return
            for v, vals in held:
                self._push(v, vals)

    def _drain(self) -> None:
        queue, delta, succ, hooks, add = self._queue, self._delta, self.succ, self.hooks, self._push
        while queue:
            v = queue.popleft()
            d = delta.pop(v, None)
            if d is None:
                continue
            self.steps += 1
            for s in succ.get(v, ()):
                add(s, d)
            for fn in hooks.get(v, ()):
                fn(d)
