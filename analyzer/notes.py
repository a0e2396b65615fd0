"""Symbol-anchored notes: parse and validate them, lock their anchors, check and drift them.

A note is Markdown with YAML front matter under annotations/ (format: annotations/README.md).
The lock (annotations/notes.lock.json, committed) records per anchor the framework@version,
path, line range and a fingerprint of the body without comments and whitespace; it never holds
upstream text. `check` compares the pinned index with the lock; `drift` compares the lock's
version with any other fetched version and classifies each anchor.
"""
from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .fingerprint import fingerprint, similarity

REPO = Path(__file__).resolve().parents[1]
MECHANISMS = ("prefix-cache", "swap", "scheduler", "block-allocator", "paged-attention",
              "attention-kernel", "custom-ops", "engine-loop")
MIN_ANCHORS = 3
REQUIRED = ("title", "framework", "version", "mechanism", "anchors")
_REF = re.compile(r"\[\[([^\]\n]+)\]\]")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_PREFIX = re.compile(r"^([a-z][a-z0-9_-]*):(?!:)(.+)$")
RENAME_THRESHOLD = 0.85


def frameworks() -> tuple[str, ...]:
    """Framework names notes may anchor in: those of the pins file."""
    from .sources import load_pins

    return tuple(load_pins())


def notes_root() -> Path:
    return Path(os.environ.get("INFERNAV_NOTES") or REPO / "annotations")


def lock_path() -> Path:
    return notes_root() / "notes.lock.json"


class NoteError(Exception):
    """A note that cannot be read or is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Anchor:
    framework: str   # vllm | ksanallm
    target: str      # canonical symbol name, or a file path relative to the framework root
    raw: str         # as written in the note

    @property
    def is_file(self) -> bool:
        return "/" in self.target

    @property
    def key(self) -> str:
        return f"{self.framework}:{self.target}"


@dataclass
class Note:
    path: Path
    rel: str                  # relative to the notes root, e.g. vllm/prefix-caching.md
    meta: dict[str, Any]
    body: str
    body_line: int            # line where the body starts (for messages)
    anchors: list[Anchor] = field(default_factory=list)
    refs: list[Anchor] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.meta.get("title", ""))

    @property
    def framework(self) -> str:
        return str(self.meta.get("framework", ""))

    @property
    def mechanism(self) -> str:
        return str(self.meta.get("mechanism", ""))


def parse_target(text: str, default_framework: str) -> Anchor:
    raw = str(text).strip()
    m = _PREFIX.match(raw)
    if m and m.group(1) in frameworks():
        return Anchor(m.group(1), m.group(2).strip(), raw)
    return Anchor(default_framework, raw, raw)


def load_note(path: Path, root: Path | None = None) -> Note:
    """Read one note; raises NoteError for unreadable files and malformed front matter."""
    import yaml

    root = root or notes_root()
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError(f"{rel}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise NoteError(f"{rel}: cannot read ({exc.strerror})") from None
    if not text.startswith("---"):
        raise NoteError(f"{rel}:1: no front matter (the file must start with a '---' line)")
    end = text.find("\n---", 3)
    if end == -1:
        raise NoteError(f"{rel}: front matter is not closed by a '---' line")
    head = text[3:end]
    try:
        meta = yaml.load(head, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""  # head starts on line 1
        raise NoteError(f"{rel}{where}: front matter is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(meta, dict):
        raise NoteError(f"{rel}: front matter must be a mapping of keys")
    body_start = end + len("\n---")
    body = text[body_start:].lstrip("\n")
    note = Note(path, rel, meta, body, head.count("\n") + 3)
    fw = note.framework if note.framework in frameworks() else ""
    anchors = meta.get("anchors") or []
    if isinstance(anchors, list):
        note.anchors = [parse_target(a, fw) for a in anchors if isinstance(a, (str, int, float))]
    note.refs = [parse_target(m.group(1), fw) for m in _REF.finditer(_FENCE.sub("", body))]
    return note


def load_notes(root: Path | None = None) -> tuple[list[Note], list[str]]:
    """Every note under the root (sorted), and the errors of those that could not be read."""
    root = root or notes_root()
    notes, errors = [], []
    for path in sorted(root.rglob("*.md")):
        if path.name == "README.md" and path.parent == root:
            continue
        try:
            notes.append(load_note(path, root))
        except NoteError as exc:
            errors.append(str(exc))
    return notes, errors


def validate(note: Note) -> list[str]:
    """Format problems of one note (empty when valid)."""
    problems = []
    m = note.meta
    for key in REQUIRED:
        if key not in m or m[key] in (None, "", []):
            problems.append(f"missing '{key}'")
    fw = note.framework
    known = frameworks()
    if fw and fw not in known + ("cross",):
        problems.append(f"framework '{fw}' is not one of {', '.join(known + ('cross',))}")
    if note.mechanism and note.mechanism not in MECHANISMS:
        problems.append(f"mechanism '{note.mechanism}' is not one of {', '.join(MECHANISMS)}")
    anchors = m.get("anchors")
    if anchors is not None and not isinstance(anchors, list):
        problems.append("'anchors' must be a list")
    elif isinstance(anchors, list):
        if any(not isinstance(a, str) for a in anchors):
            problems.append("every anchor must be a string")
        if len(anchors) < MIN_ANCHORS:
            problems.append(f"{len(anchors)} anchors; a note needs at least {MIN_ANCHORS}")
        if len(set(map(str, anchors))) != len(anchors):
            problems.append("duplicate anchors")
        for a in note.anchors + note.refs:
            if a.framework not in known:
                problems.append(f"'{a.raw}': cross-engine notes must prefix every anchor and reference "
                                f"with its framework ({', '.join(f + ':' for f in known)})")
    if fw in known and not str(m.get("version", "")).strip():
        problems.append("missing 'version'")
    for key in ("reimpl", "tests"):
        value = m.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"'{key}' must be a list of strings")
            continue
        for v in value:
            if not project_path(v).exists():
                problems.append(f"{key} '{v}' does not exist in this repository")
    return problems


def project_path(name: str) -> Path:
    """A module (`infernav.reimpl.prefix_cache`) or repo path (`tests/x.py`) -> its file or folder."""
    if "/" in name or name.endswith(".py"):
        return REPO / name
    parts = name.split(".")
    if parts[0] == "infernav" and len(parts) >= 2:
        base = REPO / parts[1]
        rest = parts[2:]
        as_dir = base.joinpath(*rest)
        return as_dir if as_dir.exists() else base.joinpath(*rest[:-1], rest[-1] + ".py") if rest else base
    return REPO / name


# ------------------------------------------------------------------------------------ lock
def read_lock() -> dict[str, Any]:
    path = lock_path()
    if not path.exists():
        return {"version": 1, "notes": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise NoteError(f"{path.name}: unreadable lock ({exc}); restore it from git or relock every note") from None
    if not isinstance(data, dict) or not isinstance(data.get("notes"), dict):
        raise NoteError(f"{path.name}: not an infernav notes lock")
    return data


def write_lock(data: dict[str, Any]) -> None:
    path = lock_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------ evidence
@dataclass
class Evidence:
    """Where an anchor points in one index, and the fingerprint of what is there."""

    framework: str            # name@version
    kind: str
    path: str
    lines: tuple[int, int]
    fingerprint: str
    text: str | None          # the body, when the source is present (never stored in the lock)
    lang: str
    name: str = ""

    def lock_entry(self) -> dict[str, Any]:
        return {"framework": self.framework, "kind": self.kind, "path": self.path,
                "lines": list(self.lines), "fingerprint": self.fingerprint}


def locate_anchor(idx, ref_key: str, anchor: Anchor) -> Evidence | None:
    """Evidence for an anchor in an index (exact canonical names only), or None if it is absent."""
    root = idx.meta.get("root") or ""
    if anchor.is_file:
        p = Path(root) / anchor.target
        if not p.is_file():
            return None
        text = p.read_bytes().decode("utf-8", "replace")
        lang = "py" if anchor.target.endswith((".py", ".pyi")) else "cpp"
        return Evidence(ref_key, "file", anchor.target, (1, text.count("\n") + 1),
                        fingerprint(text, lang), text, lang, anchor.target)
    rows = idx.exact(anchor.target)
    if not rows:
        return None
    return _evidence(idx, ref_key, rows)


def _evidence(idx, ref_key: str, rows: list) -> Evidence:
    rows = sorted(rows, key=lambda r: (r.path, r.line))
    texts = [idx.body(r) for r in rows]
    text = None if any(t is None for t in texts) else "\n".join(texts)
    lang = rows[0].lang
    fp = fingerprint(text, lang) if text is not None else ""
    first = rows[0]
    return Evidence(ref_key, first.kind, first.path, (first.line, first.end_line), fp, text, lang, first.name)


# ------------------------------------------------------------------------------------ check
@dataclass
class AnchorResult:
    note: str
    anchor: str
    status: str               # ok | broken | drifted | unlocked | unchecked
    detail: str = ""
    diff: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"note": self.note, "anchor": self.anchor, "status": self.status, "detail": self.detail,
                "diff": self.diff}


def check(notes: list[Note], open_index: Callable[[str], Any], skipped: Callable[[str, str], None]) -> list[AnchorResult]:
    """Every anchor and inline reference against the pinned index and the lock.

    open_index(framework) returns an Index or raises LookupError(reason) when the framework's
    source is not present; such frameworks are checked against the lock only, and `skipped` is
    told once per framework.
    """
    lock = read_lock()["notes"]
    indexes: dict[str, Any] = {}
    absent: dict[str, str] = {}

    def index_for(fw: str):
        if fw in indexes or fw in absent:
            return indexes.get(fw)
        try:
            indexes[fw] = open_index(fw)
        except LookupError as exc:
            absent[fw] = str(exc)
            skipped(fw, str(exc))
        return indexes.get(fw)

    results: list[AnchorResult] = []
    for note in notes:
        locked = lock.get(note.rel, {}).get("anchors", {})
        for anchor in note.anchors:
            entry = locked.get(anchor.key)
            idx = index_for(anchor.framework)
            if idx is None:
                status = "unchecked" if entry else "unlocked"
                detail = "source not present; lock entry exists" if entry else "not in the lock"
                results.append(AnchorResult(note.rel, anchor.raw, status, detail))
                continue
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            ev = locate_anchor(idx, key, anchor)
            if ev is None:
                results.append(AnchorResult(note.rel, anchor.raw, "broken", _not_found(idx, anchor)))
            elif entry is None:
                results.append(AnchorResult(note.rel, anchor.raw, "unlocked",
                                            f"not in the lock; review, then: infernav notes relock {note.rel}"))
            elif entry["fingerprint"] != ev.fingerprint:
                old = _old_text(entry, anchor)
                diff = _diff(old, ev.text, entry, ev) if old is not None else ""
                detail = (f"body changed since the lock ({entry['framework']} {entry['path']}:"
                          f"{entry['lines'][0]}-{entry['lines'][1]} -> {ev.path}:{ev.lines[0]}-{ev.lines[1]})")
                if old is None:
                    detail += ("; no diff: the locked body cannot be recovered here (its version's source "
                               "is absent, or was indexed differently)")
                results.append(AnchorResult(note.rel, anchor.raw, "drifted", detail, diff))
            else:
                results.append(AnchorResult(note.rel, anchor.raw, "ok"))
        for ref in note.refs:
            idx = index_for(ref.framework)
            if idx is None:
                continue
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            if locate_anchor(idx, key, ref) is None:
                results.append(AnchorResult(note.rel, f"[[{ref.raw}]]", "broken", _not_found(idx, ref)))
    return results


def _not_found(idx, anchor: Anchor) -> str:
    where = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
    if anchor.is_file:
        return f"no file {anchor.target} in {where}"
    near = idx.suggest(anchor.target, 3)
    return f"no symbol {anchor.target} in {where}" + (f" (near: {', '.join(near)})" if near else "")


def _old_text(entry: dict[str, Any], anchor: Anchor) -> str | None:
    """The locked version's body, if that version's source and index are present."""
    from . import sources
    from .indexer import index_path
    from .query import Index

    try:
        ref = sources.parse_ref(entry["framework"])
        old = Index(index_path(ref))
    except Exception:
        return None
    try:
        ev = locate_anchor(old, entry["framework"], anchor)
        return ev.text if ev is not None and ev.fingerprint == entry["fingerprint"] else None
    finally:
        old.close()


def _diff(old: str | None, new: str | None, entry: dict[str, Any], ev: Evidence) -> str:
    if old is None or new is None:
        return ""
    a = f"{entry['framework']}/{entry['path']}"
    b = f"{ev.framework}/{ev.path}"
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), a, b, n=2))


# ------------------------------------------------------------------------------------ relock
def relock(notes: list[Note], open_index: Callable[[str], Any]) -> dict[str, int]:
    """Record current fingerprints for every anchor of `notes` (after a human re-review)."""
    data = read_lock()
    counts = {}
    for note in notes:
        problems = validate(note)
        if problems:
            raise NoteError(f"{note.rel}: {'; '.join(problems)}")
        entries = {}
        for anchor in note.anchors:
            idx = open_index(anchor.framework)
            key = f"{idx.meta.get('framework')}@{idx.meta.get('version')}"
            ev = locate_anchor(idx, key, anchor)
            if ev is None:
                raise NoteError(f"{note.rel}: cannot lock '{anchor.raw}': {_not_found(idx, anchor)}")
            entries[anchor.key] = ev.lock_entry()
        data["notes"][note.rel] = {"version": str(note.meta.get("version")), "anchors": entries}
        counts[note.rel] = len(entries)
    write_lock(data)
    return counts


# ------------------------------------------------------------------------------------ drift
@dataclass
class DriftResult:
    note: str
    anchor: str
    status: str               # unchanged | moved | renamed | changed | gone | unlocked
    old: str = ""             # where it was (lock)
    new: str = ""             # where it is now
    detail: str = ""
    added: int = 0
    removed: int = 0
    diff: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("note", "anchor", "status", "old", "new", "detail",
                                              "added", "removed", "diff")}


def drift(notes: list[Note], target: Any, target_key: str, framework: str,
          old_index: Callable[[str], Any | None]) -> list[DriftResult]:
    """Classify every anchor of `framework` between its locked version and `target` (an Index)."""
    lock = read_lock()["notes"]
    results = []
    for note in notes:
        locked = lock.get(note.rel, {}).get("anchors", {})
        for anchor in note.anchors:
            if anchor.framework != framework:
                continue
            entry = locked.get(anchor.key)
            if entry is None:
                results.append(DriftResult(note.rel, anchor.raw, "unlocked", detail="not in the lock"))
                continue
            old_idx = old_index(entry["framework"])
            old_ev = locate_anchor(old_idx, entry["framework"], anchor) if old_idx is not None else None
            old_text = old_ev.text if old_ev is not None and old_ev.fingerprint == entry["fingerprint"] else None
            results.append(_classify(note.rel, anchor, entry, old_text, target, target_key))
    return results


def _where(path: str, lines) -> str:
    return f"{path}:{lines[0]}-{lines[1]}"


def _classify(note: str, anchor: Anchor, entry: dict, old_text: str | None, target, target_key: str) -> DriftResult:
    old_where = _where(entry["path"], entry["lines"])
    ev = locate_anchor(target, target_key, anchor)
    if ev is not None:
        new_where = _where(ev.path, ev.lines)
        if ev.fingerprint == entry["fingerprint"]:
            if ev.path == entry["path"] and list(ev.lines) == list(entry["lines"]):
                return DriftResult(note, anchor.raw, "unchanged", old_where, new_where)
            what = "file" if ev.path != entry["path"] else "lines"
            return DriftResult(note, anchor.raw, "moved", old_where, new_where, f"same body, {what} moved")
        r = DriftResult(note, anchor.raw, "changed", old_where, new_where)
        _fill_diff(r, old_text, ev.text, entry, ev)
        return r
    # Not under its name: look for the same body under another name (rename) or another file.
    if anchor.is_file:
        base = anchor.target.rsplit("/", 1)[-1]
        rows = target.conn.execute("SELECT path FROM files WHERE path LIKE ?", (f"%/{base}",)).fetchall()
        for (p,) in rows:
            cand = locate_anchor(target, target_key, Anchor(anchor.framework, p, p))
            if cand is not None and old_text is not None and similarity(old_text, cand.text or "", cand.lang) >= RENAME_THRESHOLD:
                return DriftResult(note, anchor.raw, "moved", old_where, _where(p, cand.lines), f"file moved to {p}")
        return DriftResult(note, anchor.raw, "gone", old_where, "", "file not in " + target_key)
    if old_text is None:
        return DriftResult(note, anchor.raw, "gone", old_where, "",
                           "not found by name; the locked source is not present to search for a rename")
    best = _rename_candidate(anchor, entry, old_text, target)
    if best is not None:
        score, row, text = best
        new_where = _where(row.path, (row.line, row.end_line))
        status = "renamed" if row.short != anchor.target.replace("::", ".").rsplit(".", 1)[-1] else "moved"
        r = DriftResult(note, anchor.raw, status, old_where, new_where,
                        f"now {row.name} (body similarity {score:.2f})")
        if fingerprint(text, row.lang) != entry["fingerprint"]:
            _fill_diff(r, old_text, text, entry, Evidence(target_key, row.kind, row.path, (row.line, row.end_line), "", text, row.lang))
        return r
    return DriftResult(note, anchor.raw, "gone", old_where, "", f"no symbol of that name or body in {target_key}")


def _rename_candidate(anchor: Anchor, entry: dict, old_text: str, target):
    """The most similar symbol of the same kind: same file first, then the same short name anywhere."""
    short = re.split(r"::|\.", anchor.target)[-1]
    rows = target._rows(
        "SELECT id, name, short, kind, lang, path, line, end_line, sig, doc, flags, parent, decl_path, decl_line "
        "FROM symbols WHERE (path=? AND kind=?) OR (short=? AND kind=?)",
        (entry["path"], entry["kind"], short, entry["kind"]))
    best = None
    old_len = len(old_text)
    for row in rows:
        text = target.body(row)
        if not text or not (0.5 * old_len <= len(text) <= 2 * old_len):
            continue
        score = similarity(old_text, text, row.lang, short, row.short)
        if score >= RENAME_THRESHOLD and (best is None or score > best[0]):
            best = (score, row, text)
    return best


def _fill_diff(r: DriftResult, old: str | None, new: str | None, entry: dict, ev: Evidence) -> None:
    if old is None or new is None:
        r.detail = "; ".join(filter(None, [r.detail, "body changed (locked source not present: no diff)"]))
        return
    d = _diff(old, new, entry, ev)
    r.diff = d
    for line in d.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            r.added += 1
        elif line.startswith("-") and not line.startswith("---"):
            r.removed += 1
    r.detail = "; ".join(filter(None, [r.detail, f"+{r.added} -{r.removed} lines"]))


def notes_on(symbol_names: set[str], framework: str) -> list[Note]:
    """Notes anchored on any of these canonical names (for `infernav show`)."""
    notes, _ = load_notes()
    return [n for n in notes if any(a.framework == framework and a.target in symbol_names for a in n.anchors)]
