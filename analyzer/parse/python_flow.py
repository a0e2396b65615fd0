"""Value-flow facts of one Python file: what the points-to solver (resolve/python_flow.py) reads.

One walk over the tree, statement by statement, converting only the expressions that carry values
(names, attributes, calls, subscripts, literals, lambdas, comprehensions, conditionals); every other
node is scanned for the calls, lambdas and comprehensions inside it. The shapes (all plain tuples,
so they marshal):

  blocks  [(parent block, is_loop, start byte, end byte)]: the conditional bodies (if/elif/else,
          loop bodies, except clauses, match cases); -1 is a scope's unconditional top level.
  ops     one tuple per binding or value-moving statement, in document order:
          ('as', scope, pos, blk, pattern, expr, line)   assignment (pos = end of the statement)
          ('def', scope, pos, blk, name, def id)         def/class statement binding `name`
          ('deco', def id, [expr], line)                 decorators, top to bottom
          ('imp', scope, pos, blk, local, target, star)  an import binding
          ('glob', scope, [names])                       global/nonlocal declarations
          ('ret', scope, expr) / ('yld', scope, expr, is_from)
          ('for', scope, pos, blk, pattern, iter expr, line)   pos = start of the loop body
          ('with', scope, pos, blk, pattern | None, expr, line)
          ('raise', scope, expr, line)                   `raise X` (not a call): X.__init__
          ('exc', scope, pos, blk, name, type expr)      `except T as name`
          ('cfor', scope, comp id, pattern, iter expr)   a comprehension's `for`
          ('ann', scope, pattern, annotation text)       `x: T` / `self.x: T`
  sites   per call (aligned with facts['calls']): (callee expr, [positional], [(keyword | '**', expr)])
          positional entries may be ('*', expr); None where the call was not reached
  params  {def id: [(name, kind, default expr | None, annotation | None)]}
          kind: 'p' positional/keyword, 'k' keyword-only, 'v' *args, 'w' **kwargs
  gens    def ids of generator functions

Expressions: ('n', name, pos, blk) a name read; ('cv', comp id, name) a comprehension variable;
('a', expr, attr); ('c', site); ('s', expr, key expr | ('sl', start | None), line); ('k', int | str) a constant;
('L', 'list' | 'tuple' | 'set', [expr | ('*', expr)]); ('D', [(key expr | None for **, expr)]);
('f', def id) a lambda; ('u', [expr]) either of; ('C', comp id, kind, element | ('kv', k, v)).
Patterns: ('n', name) | ('a', expr, attr) | ('s', expr, key, line) | ('t', [pattern]) | ('*', pattern).
"""
from __future__ import annotations

from typing import Any, Callable

from .python_exprs import SIDE_EFFECT_EXPR, Expressions, text as _text


class FlowWalker(Expressions):
    """Walks one module; `def_at` maps a def/lambda node's start byte to its def id, `site_at` a
    call node's (start, end) bytes to its call index, `imports(node, out)` appends import bindings."""

    def __init__(self, def_at: dict[int, int], site_at: dict[tuple[int, int], int], nsites: int,
                 imports: Callable[[Any, list], None]):
        self.def_at, self.site_at, self.imports = def_at, site_at, imports
        self.ops: list[tuple] = []
        self.blocks: list[tuple] = []
        self.sites: list[Any] = [None] * nsites
        self.params: dict[int, list] = {}
        self.gens: set[int] = set()
        self.comps = 0
        self.env: dict[str, int] = {}
        self.scope = 0
        self.blk = -1

    def facts(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "ops": self.ops, "sites": self.sites, "params": self.params,
                "gens": sorted(self.gens)}

    # ------------------------------------------------------------------ blocks and scopes
    def _new_block(self, node, loop: bool) -> int:
        self.blocks.append((self.blk, loop, node.start_byte, node.end_byte))
        return len(self.blocks) - 1

    def _in_block(self, node, loop: bool = False) -> None:
        saved = self.blk
        self.blk = self._new_block(node, loop)
        self.body(node)
        self.blk = saved

    def body(self, node) -> None:
        for st in node.named_children:
            self.stmt(st)

    def stmt(self, n) -> None:
        h = _STMT.get(n.type)
        if h is not None:
            h(self, n)
        else:
            self.scan(n)

    def scan(self, n) -> None:
        """Visit the calls, lambdas, comprehensions, yields and statements under an opaque node."""
        stack = list(reversed(n.named_children))
        while stack:
            c = stack.pop()
            t = c.type
            if t in SIDE_EFFECT_EXPR:
                self.expr(c)
            elif t in _STMT:
                self.stmt(c)
            elif c.named_child_count:
                stack.extend(reversed(c.named_children))

    # ------------------------------------------------------------------ statements
    def s_expression(self, n) -> None:
        for c in n.named_children:
            if c.type == "assignment":
                self.s_assign(c)
            elif c.type == "augmented_assignment":
                self.s_aug(c)
            else:
                self.expr(c)

    def s_assign(self, n) -> None:
        targets = [n.child_by_field_name("left")]
        right = n.child_by_field_name("right")
        ann = n.child_by_field_name("type")
        while right is not None and right.type == "assignment":
            targets.append(right.child_by_field_name("left"))
            right = right.child_by_field_name("right")
        value = self.expr(right) if right is not None else None
        line = n.start_point[0] + 1
        for t in targets:
            pat = self.pattern(t)
            if pat is None:
                continue
            if ann is not None:
                self.ops.append(("ann", self.scope, pat, _text(ann)))
            if right is not None:
                self.ops.append(("as", self.scope, n.end_byte, self.blk, pat, value, line))

    def s_aug(self, n) -> None:
        left = n.child_by_field_name("left")
        right = n.child_by_field_name("right")
        old = self.expr(left)
        new = self.expr(right) if right is not None else None
        pat = self.pattern(left)
        if pat is not None and pat[0] == "n":
            self.ops.append(("as", self.scope, n.end_byte, self.blk, pat, ("u", [old, new]),
                             n.start_point[0] + 1))

    def s_return(self, n) -> None:
        for c in n.named_children:
            self.ops.append(("ret", self.scope, self.expr(c)))

    def s_raise(self, n) -> None:
        kids = n.named_children
        if not kids:
            return
        v = self.expr(kids[0])
        for c in kids[1:]:
            self.expr(c)
        if kids[0].type != "call" and v is not None:
            self.ops.append(("raise", self.scope, v, n.start_point[0] + 1))

    def s_for(self, n) -> None:
        it = self.expr(n.child_by_field_name("right"))
        body = n.child_by_field_name("body")
        saved = self.blk
        self.blk = self._new_block(n, True)
        pat = self.pattern(n.child_by_field_name("left"))
        if pat is not None:
            self.ops.append(("for", self.scope, body.start_byte, self.blk, pat, it, n.start_point[0] + 1))
        self.body(body)
        self.blk = saved
        alt = n.child_by_field_name("alternative")
        if alt is not None:
            self._in_block(alt.child_by_field_name("body") or alt)

    def s_while(self, n) -> None:
        self.expr(n.child_by_field_name("condition"))
        self._in_block(n.child_by_field_name("body"), loop=True)
        alt = n.child_by_field_name("alternative")
        if alt is not None:
            self._in_block(alt.child_by_field_name("body") or alt)

    def s_if(self, n) -> None:
        self.expr(n.child_by_field_name("condition"))
        self._in_block(n.child_by_field_name("consequence"))
        for alt in n.children_by_field_name("alternative"):
            if alt.type == "elif_clause":
                self.expr(alt.child_by_field_name("condition"))
                self._in_block(alt.child_by_field_name("consequence"))
            else:
                self._in_block(alt.child_by_field_name("body") or alt)

    def s_try(self, n) -> None:
        for c in n.named_children:
            t = c.type
            if t == "block":
                self.body(c)
            elif t in ("except_clause", "except_group_clause"):
                self._except(c)
            elif t == "else_clause":
                self._in_block(c.child_by_field_name("body") or c)
            elif t == "finally_clause":
                for b in c.named_children:
                    if b.type == "block":
                        self.body(b)

    def _except(self, c) -> None:
        saved = self.blk
        self.blk = self._new_block(c, False)
        for k in c.named_children:
            if k.type == "block":
                self.body(k)
            elif k.type == "as_pattern":
                kids = k.named_children
                typ = self.expr(kids[0]) if kids else None
                alias = k.child_by_field_name("alias")
                name = alias.named_children[0] if alias is not None and alias.named_children else None
                if name is not None and name.type == "identifier":
                    self.ops.append(("exc", self.scope, k.end_byte, self.blk, _text(name), typ))
            else:
                self.expr(k)
        self.blk = saved

    def s_with(self, n) -> None:
        line = n.start_point[0] + 1
        for clause in n.named_children:
            if clause.type != "with_clause":
                continue
            for item in clause.named_children:
                v = item.child_by_field_name("value")
                if v is None:
                    continue
                pat = None
                if v.type == "as_pattern":
                    kids = v.named_children
                    ctx = self.expr(kids[0]) if kids else None
                    alias = v.child_by_field_name("alias")
                    if alias is not None and alias.named_children:
                        pat = self.pattern(alias.named_children[0])
                else:
                    ctx = self.expr(v)
                self.ops.append(("with", self.scope, item.end_byte, self.blk, pat, ctx, line))
        body = n.child_by_field_name("body")
        if body is not None:
            self.body(body)

    def s_match(self, n) -> None:
        self.expr(n.child_by_field_name("subject"))
        body = n.child_by_field_name("body")
        for case in (body.named_children if body is not None else ()):
            cons = case.child_by_field_name("consequence")
            if cons is not None:
                self._in_block(cons)

    def s_global(self, n) -> None:
        names = [_text(c) for c in n.named_children if c.type == "identifier"]
        self.ops.append(("glob", self.scope, names))

    def s_import(self, n) -> None:
        out: list = []
        self.imports(n, out)
        for local, target, star in out:
            self.ops.append(("imp", self.scope, n.end_byte, self.blk, local, target, star))

    def s_decorated(self, n) -> None:
        d = n.child_by_field_name("definition")
        if d is not None:
            self.stmt(d)

    def s_def(self, n) -> None:
        did = self.def_at.get(n.start_byte)
        if did is None:
            self.scan(n)
            return
        parent = n.parent
        if parent is not None and parent.type == "decorated_definition":
            decos = [self.expr(c.named_children[0]) for c in parent.children
                     if c.type == "decorator" and c.named_children]
            self.ops.append(("deco", did, decos, parent.start_point[0] + 1))
        if n.type == "class_definition":
            sup = n.child_by_field_name("superclasses")
            if sup is not None:
                self.scan(sup)
        else:
            params = n.child_by_field_name("parameters")
            self.params[did] = self.param_list(params) if params is not None else []
        self.ops.append(("def", self.scope, n.end_byte, self.blk, _text(n.child_by_field_name("name")), did))
        saved = (self.scope, self.blk, self.env)
        self.scope, self.blk, self.env = did, -1, {}
        body = n.child_by_field_name("body")
        if body is not None:
            self.body(body)
        self.scope, self.blk, self.env = saved

    def param_list(self, node) -> list:
        out, kwonly = [], False
        for c in node.named_children:
            t = c.type
            if t == "identifier":
                out.append((_text(c), "k" if kwonly else "p", None, None))
            elif t == "typed_parameter":
                first = c.named_children[0] if c.named_children else None
                tnode = c.child_by_field_name("type")
                ann = _text(tnode) if tnode is not None else None
                if first is None:
                    continue
                if first.type == "identifier":
                    out.append((_text(first), "k" if kwonly else "p", None, ann))
                elif first.type in ("list_splat_pattern", "dictionary_splat_pattern") and first.named_children:
                    star = first.type == "list_splat_pattern"
                    kwonly = kwonly or star
                    out.append((_text(first.named_children[0]), "v" if star else "w", None, ann))
            elif t in ("default_parameter", "typed_default_parameter"):
                name = c.child_by_field_name("name")
                value = c.child_by_field_name("value")
                tnode = c.child_by_field_name("type")
                if name is not None and name.type == "identifier":
                    out.append((_text(name), "k" if kwonly else "p",
                                self.expr(value) if value is not None else None,
                                _text(tnode) if tnode is not None else None))
            elif t in ("list_splat_pattern", "dictionary_splat_pattern") and c.named_children:
                star = t == "list_splat_pattern"
                kwonly = kwonly or star
                out.append((_text(c.named_children[0]), "v" if star else "w", None, None))
            elif t == "keyword_separator":
                kwonly = True
        return out


_STMT = {
    "expression_statement": FlowWalker.s_expression,
    "return_statement": FlowWalker.s_return,
    "raise_statement": FlowWalker.s_raise,
    "for_statement": FlowWalker.s_for,
    "while_statement": FlowWalker.s_while,
    "if_statement": FlowWalker.s_if,
    "try_statement": FlowWalker.s_try,
    "with_statement": FlowWalker.s_with,
    "match_statement": FlowWalker.s_match,
    "global_statement": FlowWalker.s_global,
    "nonlocal_statement": FlowWalker.s_global,
    "import_statement": FlowWalker.s_import,
    "import_from_statement": FlowWalker.s_import,
    "decorated_definition": FlowWalker.s_decorated,
    "function_definition": FlowWalker.s_def,
    "class_definition": FlowWalker.s_def,
    "pass_statement": lambda self, n: None,
    "break_statement": lambda self, n: None,
    "continue_statement": lambda self, n: None,
    "comment": lambda self, n: None,
}
