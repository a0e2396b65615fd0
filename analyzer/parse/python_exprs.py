"""Expressions of the value-flow walk (parse/python_flow.py): the nodes that carry values become
the expression tuples that module's docstring lists; every other node is scanned for the calls,
lambdas and comprehensions inside it."""
from __future__ import annotations

from typing import Any

_MAX_CONST = 64


def text(node) -> str:
    return node.text.decode("utf-8", "replace")


_text = text


class Expressions:
    """Mixin of FlowWalker: needs its state (`ops`, `sites`, `env`, `scope`, `blk`, ...), `scan()`
    and `param_list()`."""

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


_EXPR = {
    "identifier": Expressions.e_name,
    "attribute": Expressions.e_attr,
    "call": Expressions.e_call,
    "subscript": Expressions.e_subscript,
    "string": Expressions.e_string,
    "integer": Expressions.e_int,
    "list": Expressions.e_seq,
    "tuple": Expressions.e_seq,
    "set": Expressions.e_seq,
    "expression_list": Expressions.e_seq,
    "dictionary": Expressions.e_dict,
    "parenthesized_expression": Expressions.e_paren,
    "conditional_expression": Expressions.e_cond,
    "boolean_operator": Expressions.e_bool,
    "await": Expressions.e_await,
    "lambda": Expressions.e_lambda,
    "list_comprehension": Expressions.e_comp,
    "set_comprehension": Expressions.e_comp,
    "dictionary_comprehension": Expressions.e_comp,
    "generator_expression": Expressions.e_comp,
    "yield": Expressions.e_yield,
    "named_expression": Expressions.e_walrus,
    "true": lambda self, n: None,
    "false": lambda self, n: None,
    "none": lambda self, n: None,
    "float": lambda self, n: None,
    "comment": lambda self, n: None,
}

# Under an opaque node, these still matter: they create sites, symbols or bindings.
SIDE_EFFECT_EXPR = frozenset({"call", "lambda", "list_comprehension", "set_comprehension",
                               "dictionary_comprehension", "generator_expression", "yield",
                               "named_expression"})
