"""The lock (annotations/notes.lock.json, committed): per anchor the framework@version, kind, path,
line range and a fingerprint of the body without comments and whitespace. It never holds upstream
text, so a diff can be shown only where the locked version's source is present.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fingerprint import fingerprint
from .model import Anchor, NoteError, confined_path, lock_path


# ------------------------------------------------------------------------------------ lock
def read_lock() -> dict[str, Any]:
    path = lock_path()
    if not path.exists():
        return {"version": 1, "notes": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise NoteError(f"{path.name}: unreadable lock ({exc}); restore it from git or relock every note") from None
    if not isinstance(data, dict) or not isinstance(data.get("notes"), dict) or not all(
            _entry_ok(e) for e in data["notes"].values()):
        raise NoteError(f"{path.name}: not an infernav notes lock (restore it from git or relock every note)")
    return data


_ANCHOR_KEYS = {"framework": str, "kind": str, "path": str, "lines": list, "fingerprint": str}


def _entry_ok(entry: Any) -> bool:
    """One note's entry: {"version", "anchors": {key: {framework, kind, path, lines, fingerprint}}}."""
    if not isinstance(entry, dict) or not isinstance(entry.get("anchors"), dict):
        return False
    return all(isinstance(a, dict) and all(isinstance(a.get(k), t) for k, t in _ANCHOR_KEYS.items())
               and len(a["lines"]) == 2 and all(isinstance(x, int) for x in a["lines"])
               for a in entry["anchors"].values())


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
        if not confined_path(anchor.target) or (p.exists() and not p.resolve().is_relative_to(Path(root).resolve())):
            raise NoteError(f"'{anchor.raw}': a file anchor outside the framework root")
        if not p.is_file():
            return None
        text = p.read_bytes().decode("utf-8", "replace")
        lang = "py" if anchor.target.endswith((".py", ".pyi")) else "cpp"
        return Evidence(ref_key, "file", anchor.target, (1, text.count("\n") + 1),
                        fingerprint(text, lang), text, lang, anchor.target)
    rows = idx.exact(anchor.target)
    if not rows:
        return None
    return evidence(idx, ref_key, rows)


def source_present(idx) -> bool:
    """The source the index was built from is still where the index says."""
    root = idx.meta.get("root")
    return bool(root) and Path(root).is_dir()


def evidence(idx, ref_key: str, rows: list) -> Evidence:
    rows = sorted(rows, key=lambda r: (r.path, r.line))
    texts = [idx.body(r) for r in rows]
    text = None if any(t is None for t in texts) else "\n".join(texts)
    lang = rows[0].lang
    fp = fingerprint(text, lang) if text is not None else ""
    first = rows[0]
    return Evidence(ref_key, first.kind, first.path, (first.line, first.end_line), fp, text, lang, first.name)
