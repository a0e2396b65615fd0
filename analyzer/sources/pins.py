"""The pins file: which frameworks infernav knows, at which versions, and where their cache lives.

Engines are data: everything engine-specific (roots, op namespaces, extension names by folder,
permalink templates, sha256 pins) is an entry in pins.toml, so adding an engine is a new entry.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

Progress = Callable[[str, int, int], None]  # what is being fetched, done, total (bytes or files)

PINS_PATH = Path(__file__).resolve().parents[1] / "pins.toml"
CONVENTIONS_PATH = PINS_PATH.with_name("conventions.toml")
# Lists an engine's settings merge from its convention sets and its own entry.
_LIST_SETTINGS = ("registration_macros", "test_macros", "test_paths", "python_op_registrars")
# Settings that change what the extractors produce: a change re-parses (see parse_context).
# Tables an engine's settings merge the same way (its own entries win): TORCH_EXTENSION_NAME per
# folder, launch functions (name -> index of the kernel argument), object-like macro values the
# resolver substitutes (`ACTIVE_DEVICE_TYPE` in template arguments).
_TABLE_SETTINGS = ("torch_extension_names", "launch_functions", "defines")
_PARSE_SETTINGS = ("registration_macros", "test_macros", "python_op_registrars")


class SourceError(Exception):
    """A source could not be had; the message says, in one line, how to provide it."""


@dataclass(frozen=True)
class FrameworkRef:
    name: str
    version: str
    pin: dict[str, Any] = field(hash=False, compare=False)
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def roots(self) -> list[str]:
        return list(self.spec.get("roots", []))

    @property
    def companions(self) -> dict[str, dict[str, Any]]:
        """`[<engine>.companions.<name>]`: projects that `fetch --with NAME=DIR` places inside the
        source tree (`folder`), indexed with its `roots` (inside the folder) when present."""
        return dict(self.spec.get("companions", {}))

    def index_roots(self, root) -> list[str]:
        """The folders an index walks: the engine's roots, and each companion's that `root` holds."""
        from pathlib import Path

        extra = [f"{c['folder']}/{r}" for c in self.companions.values() if (Path(root) / c["folder"]).is_dir()
                 for r in c["roots"]]
        return self.roots + extra

    def companion_of(self, path: str) -> dict[str, Any] | None:
        """The companion entry whose folder holds `path`, None for the engine's own files."""
        return next((c for c in self.companions.values() if path.startswith(c["folder"] + "/")), None)

    @property
    def settings(self) -> dict[str, Any]:
        """The engine's conventions merged with its own entry (lists concatenated, deduplicated).

        An entry without `conventions` gets every set of conventions.toml."""
        sets = conventions()
        chosen = self.spec.get("conventions", list(sets))
        out: dict[str, Any] = {k: [] for k in _LIST_SETTINGS}
        for name in chosen:
            if name not in sets:
                raise SourceError(f"{self.name}: unknown convention set '{name}' (known: {', '.join(sets)})")
            for key in _LIST_SETTINGS:
                out[key] += sets[name].get(key, [])
        for key in _LIST_SETTINGS:
            out[key] = list(dict.fromkeys(out[key] + list(self.spec.get(key, []))))
        out["python_op_namespace"] = self.spec.get("python_op_namespace", "")
        for key in _TABLE_SETTINGS:  # tables: the convention sets', then the engine's own over them
            merged: dict[str, Any] = {}
            for name in chosen:
                merged.update(sets[name].get(key, {}))
            out[key] = {**merged, **self.spec.get(key, {})}
        return out

    def parse_context(self) -> dict[str, Any]:
        """The settings extractors read; stored facts are valid only for the same values."""
        settings = self.settings
        return {k: sorted(settings[k]) for k in _PARSE_SETTINGS}

    def is_test_path(self, path: str) -> bool:
        """Whether a source path is test code by the engine's `test_paths` globs."""
        from fnmatch import fnmatch

        return any(fnmatch(path, pat) or fnmatch("/" + path, pat) for pat in self.settings["test_paths"])

    def permalink(self, path: str, line: int) -> str:
        template = (self.companion_of(path) or self.spec).get("permalink", "")
        return template.format(version=self.version, commit=self.pin.get("commit", self.version),
                               path=path, line=line)


def pins_path() -> Path:
    """The pins file: the packaged one, or $INFERNAV_PINS (extra frameworks, test fixtures)."""
    env = os.environ.get("INFERNAV_PINS")
    return Path(env) if env else PINS_PATH


def load_pins() -> dict[str, Any]:
    path = pins_path()
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"cannot read pins file {path}: {exc}") from None


@lru_cache(maxsize=1)
def conventions() -> dict[str, Any]:
    """Shared convention sets (conventions.toml): torch, pybind11, gtest, pytest."""
    try:
        with open(CONVENTIONS_PATH, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"cannot read {CONVENTIONS_PATH}: {exc}") from None


def home() -> Path:
    """$INFERNAV_HOME, or the user cache dir; SourceError when it exists and is not a folder."""
    env = os.environ.get("INFERNAV_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("infernav"))
    if path.exists() and not path.is_dir():
        raise SourceError(f"INFERNAV_HOME={path} is not a folder; point it at a folder (or unset it)")
    return path


# A version is a file name in the cache (`sources/<name>@<version>`): no separators, no `..`.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_SOURCE_KEYS = {"pypi-sdist": "package", "git": "url"}


def check_entry(name: str, spec: Any) -> None:
    """SourceError (naming the pins file) for an entry a fetch or an index could not use."""
    def bad(what: str):
        raise SourceError(f"pins file {pins_path()}: [{name}] {what}")

    if not isinstance(spec, dict):
        bad("is not a table")
    kind = spec.get("source")
    if kind not in _SOURCE_KEYS:
        bad(f"has source {kind!r}; want one of {', '.join(_SOURCE_KEYS)}" if kind else "has no 'source'")
    if not isinstance(spec.get(_SOURCE_KEYS[kind]), str):
        bad(f"is a {kind} source without '{_SOURCE_KEYS[kind]}'")
    if not isinstance(spec.get("default"), str) or not _VERSION.match(spec["default"]):
        bad("has no 'default' version" if "default" not in spec else f"has a bad default {spec['default']!r}")
    if not _relative_folders(spec.get("roots")):
        bad("needs 'roots': a list of folders inside the source (no '..', not absolute)")
    if not isinstance(spec.get("versions", {}), dict):
        bad("has 'versions' that is not a table")
    _check_companions(spec.get("companions", {}), bad)


def _check_companions(companions: Any, bad) -> None:
    """Each companion needs a plain `folder` name and relative `roots` inside it."""
    if not isinstance(companions, dict):
        bad("has 'companions' that is not a table")
    for cname, comp in companions.items():
        folder = comp.get("folder") if isinstance(comp, dict) else None
        if not isinstance(folder, str) or not _VERSION.match(folder):
            bad(f"companion '{cname}' needs 'folder': one folder name inside the source tree")
        if not _relative_folders(comp.get("roots")):
            bad(f"companion '{cname}' needs 'roots': a list of folders inside its folder (no '..', not absolute)")


def _relative_folders(roots: Any) -> bool:
    return isinstance(roots, list) and bool(roots) and all(
        isinstance(r, str) and r and not r.startswith("/") and ".." not in r.split("/") for r in roots)


def parse_ref(text: str | None, pins: dict[str, Any] | None = None) -> FrameworkRef:
    """`vllm`, `vllm@0.33.0`, `ksanallm` -> FrameworkRef (unknown names raise SourceError)."""
    pins = pins if pins is not None else load_pins()
    text = text or "vllm"
    name, _, version = text.partition("@")
    name = name.strip().lower()
    if name not in pins:
        raise SourceError(f"unknown framework '{name}'; known: {', '.join(sorted(pins))}")
    spec = pins[name]
    check_entry(name, spec)
    version = version.strip() or spec["default"]
    if not _VERSION.match(version):
        raise SourceError(f"{name}: bad version {version[:60]!r} (letters, digits, '.', '_', '+', '-')")
    pin = spec.get("versions", {}).get(version, {})
    return FrameworkRef(name, version, dict(pin) if isinstance(pin, dict) else {}, spec)


def all_default_refs() -> list[FrameworkRef]:
    pins = load_pins()
    return [parse_ref(name, pins) for name in pins]
