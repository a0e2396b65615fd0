"""C++ expressions as the resolver reads them: a callee or receiver as a chain, and the value of
an initializer or argument as a TypeExpr, built from the tree.

Chain grammar (what cpp_types.parse_chain reads): segments joined by `.`; a segment is a name
(`ns::Cls<T>::f`, template arguments kept) followed by suffixes: `()` call, `[]` subscript,
`*` dereference, `&` address-of. `this->a_->Get(x)[i]` -> `this.a_.Get()[]`; `(*it)->f` ->
`it*.f`; `static_cast<D*>(this)->g` -> `static_cast<D*>(this).g` is written `static_cast<D*>()`
with the cast's operand dropped (the resolver reads casts by their template argument)."""
from __future__ import annotations

import re

from .cpp_syntax import _WS, squeeze, strip_templates

MAX_TEXT = 300
MAX_CHAIN_DEPTH = 64
_TEMPLATE_KW = re.compile(r"\btemplate\s+")
_FLOAT = re.compile(r"[.eEpP]|[fF]$")
_CASTS = ("static_cast", "dynamic_cast", "reinterpret_cast", "const_cast",
          "static_pointer_cast", "dynamic_pointer_cast", "std::static_pointer_cast", "std::dynamic_pointer_cast")


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def chain_of(node, depth: int = 0) -> str:
    """The chain an expression denotes, or '' when it is not a chain (arithmetic, lambdas, ...)."""
    if node is None or depth > MAX_CHAIN_DEPTH:
        return ""
    t = node.type
    if t in ("identifier", "field_identifier", "this", "namespace_identifier", "type_identifier"):
        return _text(node)
    if t in ("qualified_identifier", "template_function", "template_method", "template_type", "dependent_name"):
        text = squeeze(_TEMPLATE_KW.sub("", _text(node)))
        return text if len(text) <= MAX_TEXT else strip_templates(text)[:MAX_TEXT]
    if t == "field_expression":
        base = chain_of(node.child_by_field_name("argument"), depth + 1)
        field = node.child_by_field_name("field")
        if not base or field is None:
            return ""
        return f"{base}.{chain_of(field, depth + 1) or squeeze(_TEMPLATE_KW.sub('', _text(field)))}"
    if t == "call_expression":
        fn = node.child_by_field_name("function")
        base = chain_of(fn, depth + 1)
        return f"{base}()" if base else ""
    if t == "subscript_expression":
        base = chain_of(node.child_by_field_name("argument"), depth + 1)
        return f"{base}[]" if base else ""
    if t == "parenthesized_expression":
        inner = [c for c in node.named_children if c.type != "comment"]
        return chain_of(inner[0], depth + 1) if len(inner) == 1 else ""
    if t == "pointer_expression":
        op = node.child_by_field_name("operator")
        base = chain_of(node.child_by_field_name("argument"), depth + 1)
        if not base:
            return ""
        return base + ("*" if op is not None and _text(op) == "*" else "&")
    return ""


def value_of(node) -> tuple[str, str] | None:
    """TypeExpr (kind, text) of an expression's value where the syntax shows it:
    ('ann', type text) for literals, casts, `new T`, `make_shared<T>`, `T{...}`;
    ('expr', chain) for a chain's value; ('lambda', '') for a lambda; None otherwise."""
    if node is None:
        return None
    t = node.type
    if t == "number_literal":
        text = _text(node)
        is_float = not text.lower().startswith("0x") and _FLOAT.search(text)
        return ("ann", "double" if is_float else "int")
    if t in ("string_literal", "raw_string_literal", "concatenated_string"):
        return ("ann", "const char*")
    if t == "char_literal":
        return ("ann", "char")
    if t in ("true", "false"):
        return ("ann", "bool")
    if t in ("nullptr", "null"):
        return ("ann", "std::nullptr_t")
    if t == "sizeof_expression":
        return ("ann", "size_t")
    if t == "lambda_expression":
        return ("lambda", "")
    if t == "new_expression":
        tnode = node.child_by_field_name("type")
        return ("ann", _WS.sub(" ", _text(tnode)).strip() + "*") if tnode is not None else None
    if t == "cast_expression":
        tnode = node.child_by_field_name("type")
        return ("ann", _WS.sub(" ", _text(tnode))) if tnode is not None else None
    if t == "compound_literal_expression":
        tnode = node.child_by_field_name("type")
        return ("ann", _WS.sub(" ", _text(tnode)).strip()) if tnode is not None else None
    if t == "call_expression":
        return _call_value(node)
    if t == "conditional_expression":
        return value_of(node.child_by_field_name("consequence"))
    if t == "parenthesized_expression":
        inner = [c for c in node.named_children if c.type != "comment"]
        return value_of(inner[0]) if len(inner) == 1 else None
    chain = chain_of(node)
    return ("expr", chain) if chain else None


def _call_value(node) -> tuple[str, str] | None:
    fn = node.child_by_field_name("function")
    if fn is None:
        return None
    tf = fn
    if fn.type == "qualified_identifier" and fn.child_by_field_name("name") is not None \
            and fn.child_by_field_name("name").type == "template_function":
        tf = fn.child_by_field_name("name")
    if tf.type == "template_function":
        name = tf.child_by_field_name("name")
        nm = _WS.sub("", _text(name)) if name is not None else ""
        targs = tf.child_by_field_name("arguments")
        inner = _WS.sub(" ", _text(targs)).strip()[1:-1].strip() if targs is not None else ""
        short = nm.rsplit("::", 1)[-1]
        if nm in _CASTS or short in ("static_cast", "dynamic_cast", "reinterpret_cast", "const_cast"):
            return ("ann", inner)
        if short in ("make_shared", "make_unique"):
            return ("ann", inner)
    if fn.type == "qualified_identifier" and _WS.sub("", _text(fn)) in ("std::move", "std::forward"):
        args = [c for c in node.child_by_field_name("arguments").named_children if c.type != "comment"]
        return value_of(args[0]) if len(args) == 1 else None
    chain = chain_of(node)
    return ("expr", chain) if chain else None


def arg_values(args) -> tuple:
    """The TypeExpr of every argument of a call (None where unknown), for overload ranking."""
    out = []
    for a in args.named_children:
        if a.type == "comment":
            continue
        v = value_of(a)
        out.append(None if v is None or len(v[1]) > MAX_TEXT else v)
    return tuple(out)
