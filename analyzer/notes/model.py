"""Notes as data: parse and validate one note (Markdown with YAML front matter; format in
annotations/README.md) and find the notes folder, in a checkout or an installed wheel.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MECHANISMS = ("prefix-cache", "swap", "scheduler", "block-allocator", "paged-attention",
              "attention-kernel", "custom-ops", "engine-loop")
# How pages and tools name each mechanism.
MECHANISM_TITLES = {
    "prefix-cache": "Prefix caching", "swap": "Swap (KV offload)", "scheduler": "Scheduling",
    "block-allocator": "Block allocation", "paged-attention": "Paged attention",
    "attention-kernel": "Attention kernels", "custom-ops": "Python ops to CUDA kernels",
    "engine-loop": "The engine step loop",
}


MIN_ANCHORS = 3


REQUIRED = ("title", "framework", "version", "mechanism", "anchors")


_REF = re.compile(r"\[\[([^\]\n]+)\]\]")


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


_PREFIX = re.compile(r"^([a-z][a-z0-9_-]*):(?!:)(.+)$")


def repo_root() -> Path | None:
    """The checkout this package runs from (editable installs), or None for an installed wheel."""
    top = Path(__file__).resolve().parents[2]
    return top if (top / "pyproject.toml").is_file() and (top / "annotations").is_dir() else None


def notes_root() -> Path:
    """$INFERNAV_NOTES, else the annotations/ beside this package (the checkout's, or the copy
    shipped in the wheel)."""
    env = os.environ.get("INFERNAV_NOTES")
    if env:
        return Path(env)
    # A checkout's analyzer/ sits beside annotations/; a wheel installs both under infernav/.
    return Path(__file__).resolve().parents[2] / "annotations"


def frameworks() -> tuple[str, ...]:
    """Framework names notes may anchor in: those of the pins file."""
    from ..sources import load_pins

    return tuple(load_pins())


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
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")   # a BOM is no content
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
        # `X`, `vllm:X` and ` X ` are one anchor: count them by framework and target.
        distinct = len({a.key for a in note.anchors})
        if distinct < MIN_ANCHORS:
            problems.append(f"{distinct} distinct anchors; a note needs at least {MIN_ANCHORS}")
        if distinct != len(anchors):
            problems.append("duplicate anchors")
        for a in note.anchors + note.refs:
            if a.is_file and not confined_path(a.target):
                problems.append(f"'{a.raw}': a file anchor outside the framework root (give a path "
                                "relative to it, without '..')")
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
            path = project_path(v)
            if path is not None and not path.exists():
                problems.append(f"{key} '{v}' does not exist in this repository")
    return problems


def confined_path(target: str) -> bool:
    """A file anchor's text names a file under the framework root: relative, no '..', no '\\'."""
    from pathlib import PurePosixPath

    p = PurePosixPath(target)
    return bool(target) and not p.is_absolute() and ".." not in p.parts and "\\" not in target \
        and "\x00" not in target


def project_path(name: str) -> Path | None:
    """A module (`infernav.reimpl.prefix_cache`) or repo path (`tests/x.py`) -> its file or folder;
    None outside a checkout (an installed wheel has no tests/ to point at)."""
    repo = repo_root()
    if repo is None:
        return None
    if "/" in name or name.endswith(".py"):
        return repo / name
    parts = name.split(".")
    if parts[0] == "infernav" and len(parts) >= 2:
        base = repo / parts[1]
        rest = parts[2:]
        as_dir = base.joinpath(*rest)
        return as_dir if as_dir.exists() else base.joinpath(*rest[:-1], rest[-1] + ".py") if rest else base
    return repo / name
