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

_MAX_CONST = 64


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


class FlowWalker:
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
            if t in _SIDE_EFFECT_EXPR:
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

    # ------------------------------------------------------------------ expressions
    def expr(self, n):
        if n is None:
            return None
        h = _EXPR.get(n.type)
        if h is not None:
            return h(self, n)
        self.scan(n)
        return None

    def e_name(self, n):
        name = _text(n)
        cid = self.env.get(name)
        if cid is not None:
            return ("cv", cid, name)
        return ("n", name, n.start_byte, self.blk)

    def e_attr(self, n):
        obj = self.expr(n.child_by_field_name("object"))
        attr = n.child_by_field_name("attribute")
        return ("a", obj, _text(attr)) if obj is not None and attr is not None else None

    def e_call(self, n):
        fn = self.expr(n.child_by_field_name("function"))
        args = n.child_by_field_name("arguments")
        pos, kw = [], []
        if args is not None and args.type == "argument_list":
            for a in args.named_children:
                t = a.type
                if t == "keyword_argument":
                    name = a.child_by_field_name("name")
                    kw.append((_text(name) if name is not None else "**", self.expr(a.child_by_field_name("value"))))
                elif t == "list_splat":
                    pos.append(("*", self.expr(a.named_children[0]) if a.named_children else None))
                elif t == "dictionary_splat":
                    kw.append(("**", self.expr(a.named_children[0]) if a.named_children else None))
                elif t != "comment":
                    pos.append(self.expr(a))
        elif args is not None:
            pos.append(self.expr(args))
        site = self.site_at.get((n.start_byte, n.end_byte))
        if site is None:
            return None
        self.sites[site] = (fn, pos, kw)
        return ("c", site)

    def e_subscript(self, n):
        value = self.expr(n.child_by_field_name("value"))
        subs = n.children_by_field_name("subscript")
        key: Any = None
        if len(subs) == 1:
            s = subs[0]
            if s.type == "slice":
                key = ("sl", _slice_start(s))
                self.scan(s)
            else:
                key = self.expr(s)
        else:
            for s in subs:
                self.expr(s)
        return ("s", value, key, n.start_point[0] + 1) if value is not None else None

    def e_string(self, n):
        parts = []
        for c in n.named_children:
            if c.type == "interpolation":
                self.scan(c)
                return None
            if c.type == "string_content":
                parts.append(_text(c))
        s = "".join(parts)
        return ("k", s) if len(s) <= _MAX_CONST else None

    def e_int(self, n):
        try:
            return ("k", int(_text(n).replace("_", ""), 0))
        except ValueError:
            return None

    def e_seq(self, n):
        kind = {"list": "list", "set": "set"}.get(n.type, "tuple")
        elts = []
        for c in n.named_children:
            if c.type in ("list_splat", "parenthesized_list_splat"):
                elts.append(("*", self.expr(c.named_children[0]) if c.named_children else None))
            elif c.type != "comment":
                elts.append(self.expr(c))
        return ("L", kind, elts)

    def e_dict(self, n):
        items = []
        for c in n.named_children:
            if c.type == "pair":
                items.append((self.expr(c.child_by_field_name("key")), self.expr(c.child_by_field_name("value"))))
            elif c.type == "dictionary_splat":
                items.append((None, self.expr(c.named_children[0]) if c.named_children else None))
        return ("D", items)

    def e_paren(self, n):
        kids = [c for c in n.named_children if c.type != "comment"]
        return self.expr(kids[0]) if len(kids) == 1 else self.e_seq(n)

    def e_cond(self, n):
        kids = n.named_children
        if len(kids) != 3:
            self.scan(n)
            return None
        self.expr(kids[1])
        return ("u", [self.expr(kids[0]), self.expr(kids[2])])

    def e_bool(self, n):
        return ("u", [self.expr(n.child_by_field_name("left")), self.expr(n.child_by_field_name("right"))])

    def e_await(self, n):
        kids = n.named_children
        return self.expr(kids[0]) if kids else None

    def e_lambda(self, n):
        did = self.def_at.get(n.start_byte)
        params = n.child_by_field_name("parameters")
        if did is None:
            self.scan(n)
            return None
        self.params[did] = self.param_list(params) if params is not None else []
        saved = (self.scope, self.blk)
        self.scope, self.blk = did, -1
        self.ops.append(("ret", did, self.expr(n.child_by_field_name("body"))))
        self.scope, self.blk = saved
        return ("f", did)

    def e_comp(self, n):
        cid = self.comps
        self.comps += 1
        saved = dict(self.env)
        body = None
        for c in n.named_children:
            if c.type == "for_in_clause":
                it = self.expr(c.child_by_field_name("right"))
                left = c.child_by_field_name("left")
                pat = self.pattern(left) if left is not None else None
                if pat is not None:
                    self.ops.append(("cfor", self.scope, cid, pat, it))
                    for name in _pattern_names(pat):
                        self.env[name] = cid
            elif c.type == "if_clause":
                self.scan(c)
            elif body is None:
                body = c
        if body is not None and body.type == "pair":
            elt = ("kv", self.expr(body.child_by_field_name("key")), self.expr(body.child_by_field_name("value")))
        else:
            elt = self.expr(body)
        self.env = saved
        kind = {"list_comprehension": "list", "set_comprehension": "set",
                "dictionary_comprehension": "dict"}.get(n.type, "gen")
        return ("C", cid, kind, elt)

    def e_yield(self, n):
        kids = n.named_children
        if self.scope:
            self.gens.add(self.scope)
        if kids:
            is_from = any(c.type == "from" for c in n.children)
            self.ops.append(("yld", self.scope, self.expr(kids[0]), is_from))
        return None

    def e_walrus(self, n):
        v = self.expr(n.child_by_field_name("value"))
        name = n.child_by_field_name("name")
        if name is not None:
            self.ops.append(("as", self.scope, n.end_byte, self.blk, ("n", _text(name)), v, n.start_point[0] + 1))
        return v

    def pattern(self, n):
        if n is None:
            return None
        t = n.type
        if t == "identifier":
            return ("n", _text(n))
        if t == "attribute":
            obj = self.expr(n.child_by_field_name("object"))
            attr = n.child_by_field_name("attribute")
            return ("a", obj, _text(attr)) if obj is not None and attr is not None else None
        if t == "subscript":
            s = self.e_subscript(n)
            return s if s is not None else None
        if t in ("pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "expression_list"):
            return ("t", [self.pattern(c) for c in n.named_children if c.type != "comment"])
        if t in ("list_splat_pattern", "list_splat"):
            return ("*", self.pattern(n.named_children[0]) if n.named_children else None)
        if t in ("parenthesized_expression", "as_pattern_target") and n.named_children:
            return self.pattern(n.named_children[0])
        self.scan(n)
        return None


def _slice_start(s):
    """The constant start of a slice (`xs[1:]` -> 1, `xs[:2]` -> 0), else None."""
    text = _text(s).lstrip()
    if text.startswith(":"):
        return 0
    first = s.named_children[0] if s.named_children else None
    if first is not None and first.type == "integer":
        try:
            return int(_text(first), 0)
        except ValueError:
            return None
    return None


def _pattern_names(pat) -> list[str]:
    if pat is None:
        return []
    if pat[0] == "n":
        return [pat[1]]
    if pat[0] == "t":
        return [x for p in pat[1] for x in _pattern_names(p)]
    if pat[0] == "*":
        return _pattern_names(pat[1])
    return []


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

_EXPR = {
    "identifier": FlowWalker.e_name,
    "attribute": FlowWalker.e_attr,
    "call": FlowWalker.e_call,
    "subscript": FlowWalker.e_subscript,
    "string": FlowWalker.e_string,
    "integer": FlowWalker.e_int,
    "list": FlowWalker.e_seq,
    "tuple": FlowWalker.e_seq,
    "set": FlowWalker.e_seq,
    "expression_list": FlowWalker.e_seq,
    "dictionary": FlowWalker.e_dict,
    "parenthesized_expression": FlowWalker.e_paren,
    "conditional_expression": FlowWalker.e_cond,
    "boolean_operator": FlowWalker.e_bool,
    "await": FlowWalker.e_await,
    "lambda": FlowWalker.e_lambda,
    "list_comprehension": FlowWalker.e_comp,
    "set_comprehension": FlowWalker.e_comp,
    "dictionary_comprehension": FlowWalker.e_comp,
    "generator_expression": FlowWalker.e_comp,
    "yield": FlowWalker.e_yield,
    "named_expression": FlowWalker.e_walrus,
    "true": lambda self, n: None,
    "false": lambda self, n: None,
    "none": lambda self, n: None,
    "float": lambda self, n: None,
    "comment": lambda self, n: None,
}

# Under an opaque node, these still matter: they create sites, symbols or bindings.
_SIDE_EFFECT_EXPR = frozenset({"call", "lambda", "list_comprehension", "set_comprehension",
                               "dictionary_comprehension", "generator_expression", "yield",
                               "named_expression"})
