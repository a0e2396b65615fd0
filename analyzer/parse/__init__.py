"""Parsing: one tree-sitter query per language (queries/*.scm, tags.scm style), run once per file,
turned into plain per-file facts (facts.py documents their shape) by a small extractor per language.

`extract_file(lang, source, path, context)` is the one entry point the indexer calls.
"""
from __future__ import annotations

from typing import Any

from .facts import EXTRACTOR_VERSION, FileFacts
from .languages import MAX_FILE_BYTES, language_of

__all__ = ["EXTRACTOR_VERSION", "MAX_FILE_BYTES", "FileFacts", "extract_file", "language_of"]


def extract_file(lang: str, source: bytes, path: str, context: dict[str, Any]) -> FileFacts:
    """Facts of one file. `context`: per-file data the extractor needs (Python: module, is_package)."""
    from .languages import extractor

    return extractor(lang)(source, path, context)
