"""Every value-flow rule of the Python resolver on the hand-written `pyflow` fixture
(tests/fixtures/pyflow): functions passed, returned and stored, assignments, attributes,
containers, decorators, lambdas, implicit calls, C3, imports, op handles, and the call sites the
analysis says it could not resolve. Each test pins the labels of the edges it checks."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import ids

from infernav.analyzer.query import ALL_RESOLUTIONS

FIXTURE = Path(__file__).parent / "fixtures" / "pyflow"
PINS = """
[pyflow]
source = "git"
url = "file:///nonexistent/pyflow.git"
default = "1"
roots = ["flow", "csrc"]

[pyflow.torch_extension_names]
"" = "_C"
"""


@pytest.fixture(scope="module")
def flow_index(tmp_path_factory):
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    tmp = tmp_path_factory.mktemp("pyflow")
    shutil.copytree(FIXTURE, tmp / "src")
    (tmp / "pins.toml").write_text(PINS)
    mp = pytest.MonkeyPatch()
    mp.setenv("INFERNAV_HOME", str(tmp / "home"))
    mp.setenv("INFERNAV_PINS", str(tmp / "pins.toml"))
    ref = sources.parse_ref("pyflow")
    build(ref, sources.fetch(ref, path=str(tmp / "src")), jobs=1)
    idx = Index(index_path(ref))
    yield idx
    idx.close()
    mp.undo()


def sites(idx, name: str, resolutions=None) -> set[tuple[int, str, str]]:
    """(line, callee, label) of every call-site edge out of `name`."""
    return {(h.line, h.symbol.name, h.resolution)
            for h in idx.call_sites(ids(idx, name), "callees", resolutions)}


def targets(idx, name: str, line: int) -> dict[str, str]:
    return {callee: res for ln, callee, res in sites(idx, name) if ln == line}


P = "flow.passing."
B = "flow.binding."
O = "flow.objects."
C = "flow.containers."
D = "flow.decorated."
IM = "flow.implicit."


def test_functions_passed_as_arguments_keywords_defaults_and_splats(flow_index):
    assert targets(flow_index, P + "apply", 17) == {P + "leaf_a": "flow"}
    # apply_kw(first, second=leaf_c) is called with keywords, and through forward(*args, **kwargs).
    assert targets(flow_index, P + "apply_kw", 21) == {P + "leaf_a": "flow", P + "leaf_b": "flow"}
    assert targets(flow_index, P + "apply_kw", 22) == {P + "leaf_b": "flow", P + "leaf_c": "flow"}


def test_returned_functions_and_pass_through_per_call(flow_index):
    # identity(leaf_c)() and pick()(): the returned function is called at the same site.
    assert targets(flow_index, P + "run_all", 41) == {P + "identity": "exact", P + "leaf_c": "flow"}
    assert targets(flow_index, P + "run_all", 42) == {P + "pick": "exact", P + "leaf_b": "flow"}


def test_parameters_shadow_module_names(flow_index):
    assert sites(flow_index, P + "shadowing", ALL_RESOLUTIONS) == set()
    (u,) = flow_index.unresolved_sites(ids(flow_index, P + "shadowing"))
    assert (u.line, u.text, u.reason) == (47, "apply", "unknown")


def test_tuple_starred_chained_and_last_binding(flow_index):
    got = sites(flow_index, B + "tuples")
    assert got == {(22, B + "one", "flow"), (23, B + "two", "flow"), (25, B + "two", "flow"),
                   (26, B + "four", "flow")}
    assert {(ln, c) for ln, c, _ in sites(flow_index, B + "chained")} == {(31, B + "one"), (33, B + "two")}
    # Both branches reach the call after the if/else.
    assert targets(flow_index, B + "branches", 41) == {B + "one": "flow", B + "two": "flow"}
    # `handler` is rebound at module level: functions see its last value only.
    assert sites(flow_index, B + "module_level") == {(49, B + "three", "flow")}


def test_bound_methods_stored_in_attributes_reach_other_classes(flow_index):
    both = {O + "Engine.step": "flow", O + "Engine.step_batched": "flow"}
    assert targets(flow_index, O + "Engine.loop", 16) == both
    assert targets(flow_index, O + "Client.poll", 24) == both
    # An attribute set only by a subclass, read in the base through the instance that was built.
    assert targets(flow_index, O + "Base.run", 29) == {O + "WithHook.on_hook": "flow"}


def test_module_level_instance_c3_super_and_getattr(flow_index):
    got = sites(flow_index, O + "use_instances")
    assert (66, O + "Right.who", "flow") in got       # C3: Diamond, Left, Right, Root
    assert (69, O + "Right.who", "flow") in got       # getattr(shared, "who")()
    assert not any(c == O + "Root.who" for _, c, _ in got)
    assert sites(flow_index, O + "Diamond.__init__") == {(59, O + "Root.__init__", "exact")}


def test_containers_constant_keys_later_writes_appends_and_comprehensions(flow_index):
    assert sites(flow_index, C + "by_key") == {(20, C + "red", "flow")}
    assert sites(flow_index, C + "overwritten") == {(26, C + "blue", "flow")}
    assert sites(flow_index, C + "appended") == {(33, C + "green", "flow")}
    assert sites(flow_index, C + "comprehension") == {(37, C + "red", "flow"), (37, C + "blue", "flow")}
    assert sites(flow_index, C + "dict_get") == {(41, C + "red", "flow"), (41, C + "green", "flow")}


def test_decorators_applied_wrapping_registering_and_outside(flow_index):
    module = sites(flow_index, "flow.decorated")
    assert (20, D + "wrap", "flow") in module          # @wrap is a call of wrap
    assert (25, D + "register.deco", "flow") in module
    use = sites(flow_index, D + "use")
    # wrapped() runs the wrapper, which runs the original; not the original directly.
    assert (33, D + "wrap.wrapper", "flow") in use and not any(c == D + "wrapped" for _, c, _ in use)
    assert sites(flow_index, D + "wrap.wrapper") == {(9, D + "wrapped", "flow")}
    # A registering decorator returns the class, and @dataclass (outside the index) keeps it.
    assert (34, D + "Thing.method", "exact") in use


def test_lambdas_are_symbols(flow_index):
    (row,) = flow_index.lookup(D + "use.<lambda1>")
    assert row.kind == "lambda" and row.line == 35
    assert (36, D + "use.<lambda1>", "flow") in sites(flow_index, D + "use")
    assert sites(flow_index, D + "use.<lambda1>") == {(35, D + "wrap.wrapper", "flow")}


def test_implicit_calls_for_with_raise_call_and_generators(flow_index):
    got = {(ln, c, res) for ln, c, res in sites(flow_index, IM + "implicit_calls")}
    assert {(39, IM + "Counter.__iter__", "flow"), (39, IM + "Counter.__next__", "flow"),
            (41, IM + "Scope.__enter__", "flow"), (41, IM + "Scope.__exit__", "flow"),
            (43, IM + "Callable.__call__", "flow"), (45, IM + "target", "flow"),
            (46, IM + "Failure.__init__", "flow")} <= got
    vias = {(h.line, h.via) for h in flow_index.call_sites(ids(flow_index, IM + "implicit_calls"), "callees")
            if h.symbol.name.endswith(("__iter__", "__enter__", "Failure.__init__"))}
    assert vias == {(39, "implicit"), (41, "implicit"), (46, "implicit")}


def test_last_import_wins_and_namespace_packages(flow_index):
    assert sites(flow_index, "flow.imports.imported") == {
        (8, B + "two", "exact"), (9, "flow.nspkg.inner.inner_fn", "exact")}


def test_op_handle_in_an_attribute_reaches_the_kernel(flow_index):
    assert targets(flow_index, "flow.ops.Activation.forward", 10) == {"torch.ops._C.scaled_act": "flow"}
    chain = flow_index.paths(ids(flow_index, "flow.ops.Activation.forward"), ids(flow_index, "demo::scaled_act_kernel"))
    assert [s.name for s in chain[0]] == ["flow.ops.Activation.forward", "torch.ops._C.scaled_act", "scaled_act",
                                          "demo::scaled_act_kernel"]
    hops = flow_index.hops([s.id for s in chain[0]])
    assert [(h["resolution"], h["via"]) for h in hops] == [("flow", "torch-op"), ("exact", "registration"),
                                                          ("exact", "launch")]


def test_unresolved_sites_say_why(flow_index):
    got = {(u.line, u.text, u.reason, u.target) for u in
           flow_index.unresolved_sites(ids(flow_index, "flow.ops.Activation.forward") +
                                       ids(flow_index, "flow.ops.Activation.unknown"))}
    assert got == {(11, "torch.zeros", "external", "torch.zeros"), (14, "thing.mystery", "unknown", "")}
    assert flow_index.unresolved_named("mystery") == 1
    rows = {r["folder"]: r for r in flow_index.resolution_by_folder()}
    flow = rows["flow"]
    assert {"external", "unknown", "builtin"} <= flow["unresolved"].keys()
    total = flow["resolved"] + sum(flow["unresolved"].values())
    assert flow["rate"] == round(100 * flow["resolved"] / total, 1) and 0 < flow["rate"] < 100
