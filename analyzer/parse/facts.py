"""The per-file facts the extractors produce and the resolver consumes.

Facts are plain dicts and tuples so they pickle fast between worker processes and can be stored
per file in the index: an edit re-parses one file, and resolution re-runs over stored facts.

FileFacts keys:
  path      str, relative to the framework root (POSIX separators)
  lang      'py' | 'cpp' | 'cuda'
  errors    number of ERROR/MISSING regions in the parse (0 = clean)
  defs      list[Def]   (index in this list = local def id)
  calls     list[Call]
  imports   py: list[(local_name, target_dotted, level, is_star)]; cpp: list of #include texts
  usings    cpp: list[(scope def id | -1, kind, text)]  kind: 'namespace' | 'decl' | 'nsalias'
  aliases   cpp: list[(scope def id | -1, name, type text)]  (`using A = B;` and typedefs)
  macros    cpp: list[(name, line, [(callee_text, kind)])]  kind: 'call' | 'launch' | 'ref' (a bare
            ALL_CAPS name in the body: expanded only if it names another function-like macro)
  regs      cpp: list[Registration]
  module    py: dotted module name, or '' for C++

Def keys:
  kind      'module' | 'class' | 'struct' | 'function' | 'method' | 'kernel' | 'device' |
            'namespace' | 'registration'
  name      short name (`schedule`, `AllocateRequestBlocks`, `operator==`)
  qual      name qualified within its file context (`Scheduler.schedule`, `ns::Foo::Bar`)
  parent    local def id of the enclosing def, or -1
  line,end  1-based inclusive line range
  sig       one-line signature text
  doc       docstring or leading comment ('' if none)
  decos     decorators (py)
  bases     base class texts (classes)
  params    list[(name, type text | None)]
  nparams   (min, max) arity; max = -1 for variadic
  ret       return annotation / return type text, or None
  flags     sorted list of flags: property staticmethod classmethod overload abstract async
            virtual pure override static decl (declaration only) const
  vars      {name: TypeExpr} locals/params with a visible type (functions)
  attrs     {name: TypeExpr} attributes (classes: `self.x = ...`, class-level annotations, fields)
  ns        C++ enclosing namespace path ('a::b'), '' for global

TypeExpr: (kind, text, ctx) where ctx is the local def id the text must be read in:
          ('ann', text, ctx) declared/annotated type, ('call', callee text, ctx) value of a call,
          ('ref', text, ctx) an alias (`self.step_fn = self.step`, `x = y`, `functools.partial`).

Call: (caller local def id, line, callee text, nargs, kind) kind: 'call' | 'launch' | 'macroref'
  ('macroref': a macro's name passed to another macro; it counts only if it names a macro)
Registration: (kind, block namespace expr, op name, target text | None, line, end line, caller def id)
  kind: 'torch_def' | 'torch_impl' | 'pybind' (C++), 'py_custom_op' (Python: a function the
  engine's `python_op_registrars` register as a torch op; namespace '' = the engine's
  `python_op_namespace`, filled in by the resolver)
"""
from __future__ import annotations

from typing import Any

FileFacts = dict[str, Any]
Def = dict[str, Any]
Call = tuple[int, int, str, int, str]

# Bumped whenever extraction output changes shape or meaning: stored facts from an older
# extractor are re-parsed rather than trusted.
EXTRACTOR_VERSION = 25  # 25: a def's signature ends at its ':' (not at a comment after it); 24: packages below namespace folders of a package keep its import path
