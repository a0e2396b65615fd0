"""Edits that move code without changing what it binds: the old facts' positions mapped to the new.

Most edits change a file's length: every byte position after the edit moves (the value-flow
facts hold the positions of bindings and reads, parse/python_flow.py), and so do the lines of
the definitions below it. The declare pass (python_flow.Flow._declare) stored the file's
bindings with their positions, and the positions are only ever compared with each other within
the file (python_names.reaching: which bindings reach a read). So where the new facts are the
old ones with other positions and lines, and other calls, the declared bindings are kept with
their positions mapped to the new ones (the map must keep their order), and the file's build
pass is re-solved in place as for a calls-only edit (python_incremental). Anything else (another
binding, a new statement that moves a value, another block) is not a shift: None, and the
caller re-solves afresh.
"""
from __future__ import annotations

from .python_eval import update_writes

_POS_OPS = ("as", "def", "imp", "for", "with", "exc")       # ops whose slot 2 is a byte position
_LINE_SLOT = {"as": 6, "for": 6, "with": 6, "raise": 3, "deco": 3}
_IGNORED = ("calls", "flow", "errors", "defs")


class _NotAShift(Exception):
    pass


class Shift:
    """What moved: byte positions (`pos`, old -> new), call-site indexes the ops refer to
    (`sites`), and the sites the declare pass read (`updates`): calls may come and go."""

    def __init__(self) -> None:
        self.pos: dict[int, int] = {}
        self.sites: dict[int, int] = {}
        self.updates: dict[int, int] = {}

    def inverse(self) -> "Shift":
        back = Shift()
        back.pos = {b: a for a, b in self.pos.items()}
        back.sites = {b: a for a, b in self.sites.items()}
        back.updates = {b: a for a, b in self.updates.items()}
        return back


def _without(d: dict, keys: tuple) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def position_map(old: dict, new: dict) -> Shift | None:
    """How a file's facts moved, where they differ from `old` only in positions, lines and calls
    (their number too); None where they differ otherwise or the map would reorder anything."""
    if _without(old, _IGNORED) != _without(new, _IGNORED) or len(old["defs"]) != len(new["defs"]):
        return None
    if any(_without(a, ("line", "end")) != _without(b, ("line", "end")) for a, b in zip(old["defs"], new["defs"])):
        return None
    fo, fn = old.get("flow") or {}, new.get("flow") or {}
    if fo.keys() != fn.keys():
        return None
    shift = Shift()
    try:
        rest = ("blocks", "ops", "sites")
        _same(_without(fo, rest), _without(fn, rest), shift)
        _blocks(fo.get("blocks", []), fn.get("blocks", []))
        _ops(fo.get("ops", []), fn.get("ops", []), shift)
        _sites(old, new, shift)
    except _NotAShift:
        return None
    for table in (shift.pos, shift.sites, shift.updates):
        keys = sorted(table)
        if any(table[a] >= table[b] for a, b in zip(keys, keys[1:])):
            return None           # positions or sites would change order: not a shift
    return shift


def _blocks(old: list, new: list) -> None:
    if len(old) != len(new) or any(a[:2] != b[:2] for a, b in zip(old, new)):
        raise _NotAShift


def _ops(old: list, new: list, shift: Shift) -> None:
    if len(old) != len(new):
        raise _NotAShift
    for a, b in zip(old, new):
        if a[0] != b[0] or len(a) != len(b):
            raise _NotAShift
        skip = {_LINE_SLOT.get(a[0], -1)}
        if a[0] in _POS_OPS:
            _pair(a[2], b[2], shift.pos)
            skip.add(2)
        for i, (x, y) in enumerate(zip(a, b)):
            if i not in skip:
                _same(x, y, shift)


def _sites(old: dict, new: dict, shift: Shift) -> None:
    """What the declare pass reads of the call sites, in order: their update writes
    (`d.update({...})` binds `d[key]` at the receiver's position, in the call's scope) and a
    constant setattr name. The rest of a site is the build pass's, re-solved anyway."""
    def declared(facts: dict) -> list:
        sites = (facts.get("flow") or {}).get("sites", [])
        return [(k, s) for k, s in enumerate(sites) if declared_of(s) is not None or update_writes(s)]

    a_sites, b_sites = declared(old), declared(new)
    if len(a_sites) != len(b_sites):
        raise _NotAShift
    for (ka, a), (kb, b) in zip(a_sites, b_sites):
        if declared_of(a) != declared_of(b) or old["calls"][ka][0] != new["calls"][kb][0]:
            raise _NotAShift
        wa, wb = update_writes(a), update_writes(b)
        if wa or wb:
            _same(a[0], b[0], shift)
            _same(wa, wb, shift)
            shift.updates[ka] = kb


def _same(a, b, shift: Shift) -> None:
    """a and b equal but for the positions of name reads, the call sites referred to and the
    lines of subscripts, which are paired up instead."""
    if type(a) is not type(b):
        raise _NotAShift
    if isinstance(a, tuple):
        if len(a) != len(b):
            raise _NotAShift
        if len(a) == 4 and a[0] == "n" and b[0] == "n" and isinstance(a[2], int) and isinstance(a[3], int):
            if a[1] != b[1] or a[3] != b[3] or not isinstance(b[2], int):
                raise _NotAShift
            _pair(a[2], b[2], shift.pos)
            return
        if len(a) == 2 and a[0] == "c" and b[0] == "c" and isinstance(a[1], int) and isinstance(b[1], int):
            _pair(a[1], b[1], shift.sites)
            return
        last = len(a) - 1 if len(a) == 4 and a[0] == "s" and isinstance(a[3], int) else len(a)
        for x, y in zip(a[:last], b[:last]):
            _same(x, y, shift)
    elif isinstance(a, list):
        if len(a) != len(b):
            raise _NotAShift
        for x, y in zip(a, b):
            _same(x, y, shift)
    elif isinstance(a, dict):
        if a.keys() != b.keys():
            raise _NotAShift
        for k in a:
            _same(a[k], b[k], shift)
    elif a != b:
        raise _NotAShift


def _pair(a: int, b: int, pairs: dict) -> None:
    if a == -1 or b == -1:
        if a != b:
            raise _NotAShift
        return
    if pairs.setdefault(a, b) != b:
        raise _NotAShift


def shift_declared(flow, fi: int, shift: Shift, new: dict) -> None:
    """The file's declared bindings moved to their new positions (binds, star imports), its
    `d.update` bindings to their new sites with the new sites' expressions, and the lists made
    from them forgotten. Everything is made before anything is stored: a position the shift does
    not pair (KeyError) leaves the Flow as it was."""
    def moved(pos: int) -> int:
        return -1 if pos == -1 else shift.pos[pos]

    binds = {key: {name: [(moved(p), b, v) for p, b, v in lst] for name, lst in table.items()}
             for key, table in flow.binds.items() if key[0] == fi}
    stars = {key: [(moved(p), b, m) for p, b, m in lst] for key, lst in flow.stars.items() if key[0] == fi}
    sites = (new.get("flow") or {}).get("sites", [])
    updates = {}
    for (f, k), got in flow._updates.items():
        if f == fi:
            at = shift.updates[k]
            updates[(fi, at)] = [(v, e) for (v, _e), (_key, e) in zip(got, update_writes(sites[at]))]
    flow.binds.update(binds)
    flow.stars.update(stars)
    for key in [k for k in flow._updates if k[0] == fi]:
        del flow._updates[key]
    flow._updates.update(updates)
    for key in [k for k in flow._lists if k[0] == fi]:
        del flow._lists[key]


def declared_of(fact) -> object:
    """What the declare pass reads of a call site besides its update writes: a setattr with a
    constant name (python_flow.Flow._declare)."""
    if fact and fact[0] and fact[0][0] == "n" and fact[0][1] == "setattr" and len(fact[1]) > 1 \
            and fact[1][1] and fact[1][1][0] == "k":
        return str(fact[1][1][1])
    return None
