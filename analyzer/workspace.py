"""Opening a framework's index the way every front end wants it: build it when missing, rebuild it
when old or corrupt (saying so on stderr), and explain in one line when it cannot be had."""
from __future__ import annotations

import sys

from . import sources, store


def open_index(framework: str | sources.FrameworkRef, quiet: bool = False):
    """The Index of a framework (`vllm`, `vllm@0.33.0`, or a FrameworkRef).

    Raises LookupError(one-line reason) when there is no usable index and no source to build one.
    """
    from .query import Index

    ref = framework if isinstance(framework, sources.FrameworkRef) else sources.parse_ref(framework)
    path = sources.index_path(ref)
    try:
        return Index(path)
    except store.IndexProblem as exc:
        root = sources.locate(ref)
        if root is None:
            raise LookupError(f"no usable index for {ref.key} ({exc.reason}) and its source is not fetched; "
                              f"run: infernav fetch {ref.key}") from None
        try:
            store.check_writable(path)   # before any parsing: a read-only or shared cache says so now
            sources.verify(ref, root)
            if not quiet:
                print(f"note: {ref.key}: {exc.reason}; indexing {root} ...", file=sys.stderr)
            from .indexer import build      # here only: a query never loads the indexer

            build(ref, root, force=not isinstance(exc, store.MissingIndex))
        except (store.IndexProblem, sources.SourceError) as why:
            raise LookupError(f"{ref.key}: the index cannot be used ({exc.reason}) and cannot be rebuilt: "
                              f"{why}") from None
        return Index(path)
