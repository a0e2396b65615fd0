"""Which symbol of version A is which of version B, and what happened to it.

1. Same canonical name: paired (several of one name, e.g. overloads or CPU/CUDA twins, pair by
   identical body, then by file and signature, then by file, then in order). A pair is unchanged
   when its file is byte-identical or its text or fingerprint is equal (fingerprints ignore
   comments and layout: reformatting is no change); `moved` when the body is equal but the file
   differs; otherwise `changed` with +/- line counts and the signature before/after if it changed.
2. Names only in A against names only in B: renames.py.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from .bodies import Side, code_indents, norm_sig
from .model import SymbolChange


def pair_by_name(a: Side, b: Side) -> tuple[list[tuple[Any, Any]], list[Any], list[Any]]:
    """(pairs, only in A, only in B) by canonical name."""
    in_a, in_b = defaultdict(list), defaultdict(list)
    for r in a.rows:
        in_a[r.name].append(r)
    for r in b.rows:
        in_b[r.name].append(r)
    pairs, gone, new = [], [], []
    for name, ra in in_a.items():
        rb = in_b.get(name)
        if not rb:
            gone.extend(ra)
        elif len(ra) == 1 and len(rb) == 1:
            pairs.append((ra[0], rb[0]))
        else:
            p, g, n = _pair_many(a, b, ra, rb)
            pairs += p
            gone += g
            new += n
    new += [r for name, rb in in_b.items() if name not in in_a for r in rb]
    return pairs, gone, new


def _pair_many(a: Side, b: Side, ra: list, rb: list) -> tuple[list, list, list]:
    left, right = list(ra), list(rb)
    pairs = []

    def take(key_a, key_b) -> None:
        pool = defaultdict(list)
        for r in right:
            pool[key_b(r)].append(r)
        for r in list(left):
            k = key_a(r)
            if k is not None and pool.get(k):
                other = pool[k].pop(0)
                pairs.append((r, other))
                left.remove(r)
                right.remove(other)

    take(lambda r: (r.path, r.line, r.end_line) if a.same_file(b, r.path) else None,
         lambda r: (r.path, r.line, r.end_line))
    take(lambda r: (r.path, a.text(r)), lambda r: (r.path, b.text(r)))
    take(lambda r: (r.path, norm_sig(r.sig)), lambda r: (r.path, norm_sig(r.sig)))
    take(lambda r: r.path, lambda r: r.path)
    n = min(len(left), len(right))
    pairs += list(zip(left[:n], right[:n]))
    return pairs, left[n:], right[n:]


def classify(a: Side, b: Side, old: Any, new: Any, counts: dict[str, int]) -> SymbolChange | None:
    """The change of a same-name pair, or None when unchanged (counted in `counts`)."""
    if old.path == new.path and a.same_file(b, old.path):
        counts["unchanged"] += 1
        return None
    same = same_body(a, b, old, new)
    if same:
        if same == "layout":
            counts["reformatted"] += 1
        if old.path != new.path:
            return SymbolChange("moved", old, new)
        counts["unchanged"] += 1
        return None
    change = SymbolChange("changed", old, new)
    body_delta(change, a, b)
    return change


def same_body(a: Side, b: Side, old: Any, new: Any) -> str:
    """'text' (identical), 'layout' (equal but for comments and whitespace) or '' (changed).

    Different comment- and whitespace-free keys prove a change (for C/C++ the key is the
    fingerprint). Equal Python keys leave whitespace only: it is layout when the indentation of
    the code lines (outside string literals) is the same, so that whitespace inside literals (a
    docstring re-wrapped, a blank line in it) is no change either; otherwise the fingerprint,
    which keeps Python's indentation tokens, decides (a statement moved into a block changes).
    """
    ta, tb = a.text(old), b.text(new)
    if ta is None or tb is None:
        return ""
    if ta == tb:
        return "text"
    if a.body_key(old) != b.body_key(new):
        return ""
    if old.lang != "py" or code_indents(ta, "py") == code_indents(tb, "py") or a.fp(old) == b.fp(new):
        return "layout"
    return ""


def body_delta(change: SymbolChange, a: Side, b: Side) -> None:
    """+/- line counts and a signature change. Lines are compared without whitespace, blank and
    comment-only lines left out; after the common head and tail, a line counts as removed (added)
    when the other body lacks it (multiset difference: a line that only moved inside the body is
    not counted, where `diff` would count it twice)."""
    la, lb = a.code_lines(change.old), b.code_lines(change.new)
    if la is not None and lb is not None:
        n = min(len(la), len(lb))
        head = 0
        while head < n and la[head] == lb[head]:
            head += 1
        tail = 0
        while tail < n - head and la[-1 - tail] == lb[-1 - tail]:
            tail += 1
        ca, cb = Counter(la[head: len(la) - tail]), Counter(lb[head: len(lb) - tail])
        change.removed = sum((ca - cb).values())
        change.added = sum((cb - ca).values())
    signature_delta(change)


def signature_delta(change: SymbolChange) -> None:
    """Signatures before/after when they differ beyond layout and the symbol's own name."""
    old, new = change.old, change.new
    if norm_sig((old.sig or "").replace(old.short, "\0")) != norm_sig((new.sig or "").replace(new.short, "\0")):
        change.sig_before, change.sig_after = old.sig or "", new.sig or ""
