"""Every resolution rule on the hand-written `mini` fixture (tests/fixtures/mini)."""
from __future__ import annotations

from helpers import callees, callers, ids

E = "app.core.engine."
B = "app.core.base."
I = "app.core.impl."
H = "app.core.helpers."


# ---------------------------------------------------------------- Python
def test_constructor_reaches_init_and_assignment_types_attribute(mini_index):
    got = callees(mini_index, E + "Engine.__init__")
    assert got[I + "Impl.__init__"] == {"exact"}
    # self.impl = Impl(3) types the attribute: self.impl.run() reaches Impl.run.
    assert "type" in callees(mini_index, E + "Engine.step")[I + "Impl.run"]


def test_super_calls_resolve_through_the_mro(mini_index):
    got = callees(mini_index, I + "Impl.__init__")
    assert got == {B + "Base.__init__": {"exact"}}
    assert callees(mini_index, I + "Impl.run")[B + "Base.run"] == {"exact"}


def test_imports_aliases_and_module_attributes(mini_index):
    got = callees(mini_index, I + "Impl.run")
    assert got[H + "compute"] == {"exact"}  # `calc` alias, `helpers.compute`, `hmod.compute`
    sites = [h for h in mini_index.call_sites(ids(mini_index, I + "Impl.run"), "callees") if h.symbol.name == H + "compute"]
    assert sorted(h.line for h in sites) == [13, 14, 15]


def test_reexport_through_package_init(mini_index):
    # `app.Engine` is not a definition: the package re-exports it, and lookup follows that.
    assert [r.name for r in mini_index.lookup("app.Engine")] == [E + "Engine"]
    assert [r.name for r in mini_index.lookup("Engine")] == [E + "Engine"]


def test_annotation_typed_attribute_dispatches_to_every_override(mini_index):
    got = callees(mini_index, E + "Engine.step")
    assert got[B + "Interface.run"] == {"type"}
    assert "dispatch" in got[B + "Base.run"]
    assert "dispatch" in got[I + "Other.run"]
    # Impl.run is reached both through the typed attribute and by dispatch.
    assert {"type", "dispatch"} <= got[I + "Impl.run"]


def test_parameter_optional_return_and_local_types(mini_index):
    got = callees(mini_index, E + "Engine.step")
    assert got[E + "Worker.work"] == {"type"}              # param annotation, ann'd return, local
    assert got[B + "Base.helper"] == {"type"}              # Optional[Base] class-level annotation
    sites = [h.line for h in mini_index.call_sites(ids(mini_index, E + "Engine.step"), "callees")
             if h.symbol.name == E + "Worker.work"]
    assert sorted(sites) == [32, 34, 36]
    assert got[E + "Engine.size_of"] == {"exact"}


def test_functions_stored_in_attributes_and_partial(mini_index):
    got = callees(mini_index, E + "Engine.loop")
    assert got[E + "Engine.step"] == {"type"}
    assert got[H + "compute"] == {"type"}


def test_nested_function_and_static_and_classmethod(mini_index):
    assert callees(mini_index, H + "outer")[H + "outer.inner"] == {"exact"}
    assert callees(mini_index, H + "outer.inner")[H + "compute"] == {"exact"}
    assert callees(mini_index, B + "Base.build")[B + "Base.make"] == {"exact"}
    assert callees(mini_index, B + "Base.make")[B + "Base.__init__"] == {"exact"}


def test_overload_stubs_are_indexed_but_calls_reach_the_implementation(mini_index):
    rows = mini_index.lookup(H + "conv")
    assert len(rows) == 3 and sum("overload" in r.flags for r in rows) == 2
    target = [h.symbol for h in mini_index.call_sites(ids(mini_index, H + "use_conv"), "callees")]
    assert len(target) == 1 and "overload" not in target[0].flags


def test_python_overrides_relation(mini_index):
    over = mini_index.overrides(ids(mini_index, B + "Interface.run"))
    assert {r.name for r in over["overridden_by"]} == {B + "Base.run", I + "Impl.run", I + "Other.run"}
    up = mini_index.overrides(ids(mini_index, I + "Impl.run"))
    assert [r.name for r in up["overrides"]] == [B + "Base.run", B + "Interface.run"]


def test_name_only_guesses_are_labelled_hidden_by_default_and_common_names_skipped(mini_index):
    from infernav.analyzer.query import ALL_RESOLUTIONS

    got = callees(mini_index, I + "rare_method_user", ALL_RESOLUTIONS)
    assert got == {I + "Rare.very_rare_name": {"guess"}}    # `thing.append(1)` guesses nothing
    assert callees(mini_index, I + "rare_method_user") == {}
    # Both sites are kept as unresolved (the guessed one too), with their text and line.
    sites = mini_index.unresolved_sites(ids(mini_index, I + "rare_method_user"))
    assert [(u.line, u.text, u.reason, u.partial) for u in sites] == [
        (28, "thing.very_rare_name", "unknown", 0), (29, "thing.append", "unknown", 0)]


def test_property_and_flags(mini_index):
    (row,) = mini_index.lookup(B + "Base.size")
    assert "property" in row.flags and row.kind == "method"
    (row,) = mini_index.lookup(B + "Base.make")
    assert "staticmethod" in row.flags


# ---------------------------------------------------------------- C++ / CUDA
def test_out_of_class_definitions_get_class_canonical_names(mini_index):
    (row,) = mini_index.lookup("kv::PrefixCache::Allocate")
    assert row.path == "csrc/cache.cpp" and row.kind == "method"
    assert row.decl_path == "csrc/cache.h" and "override" in row.flags


def test_implicit_this_and_overloads_by_arity(mini_index):
    sites = mini_index.call_sites(ids(mini_index, "kv::PrefixCache::Allocate"), "callees")
    by_line = {(h.line, h.symbol.line) for h in sites}
    evict = {r.line: r for r in mini_index.lookup("kv::PrefixCache::Evict")}
    one, two = sorted(evict)  # Evict(n) is defined before Evict(n, force)
    assert (6, one) in by_line and (7, two) in by_line
    assert len(sites) == 2


def test_smart_pointer_field_dispatches_to_implementations(mini_index):
    got = callees(mini_index, "sched::Strategy::Step")
    assert got["kv::CacheInterface::Allocate"] == {"type"}
    assert got["kv::PrefixCache::Allocate"] == {"dispatch"}
    assert got["kv::DirectCache::Allocate"] == {"dispatch"}


def test_make_shared_static_and_declared_pointer_types(mini_index):
    got = callees(mini_index, "sched::Strategy::Step")
    assert "kv::DirectCache" in got                              # make_shared<DirectCache>()
    assert got["kv::PrefixCache::Create"] == {"exact"}           # static qualified call
    assert "type" in got["kv::PrefixCache::Free"]                # PrefixCache* p
    assert "type" in got["kv::DirectCache::Free"]                # auto from make_shared
    assert "type" in got["kv::CacheInterface::Free"]             # inside the lambda


def test_container_element_type(mini_index):
    got = callees(mini_index, "sched::Strategy::StepAll")
    assert got["kv::CacheInterface::Allocate"] == {"type"}


def test_cpp_overrides_relation(mini_index):
    over = mini_index.overrides(ids(mini_index, "kv::CacheInterface::Allocate"))
    assert {r.name for r in over["overridden_by"]} == {"kv::PrefixCache::Allocate", "kv::DirectCache::Allocate"}


def test_kernel_launch_direct_and_through_macro_given_as_argument(mini_index):
    sites = mini_index.call_sites(ids(mini_index, "add_norm"), "callees")
    launches = {(h.symbol.name, h.line, h.via) for h in sites}
    assert ("demo::add_norm_kernel", 20, "launch") in launches   # DISPATCH(LAUNCH_ADD) expands
    assert ("demo::add_norm_kernel", 21, "launch") in launches
    (k,) = mini_index.lookup("demo::add_norm_kernel")
    assert k.kind == "kernel"
    assert callees(mini_index, "demo::add_norm_kernel") == {"demo::helper_dev": {"exact"}}
    assert mini_index.lookup("demo::helper_dev")[0].kind == "device"


def test_cross_language_chain_python_to_kernel(mini_index):
    chain = mini_index.paths(ids(mini_index, "app.ops.add_norm"), ids(mini_index, "demo::add_norm_kernel"))
    assert [s.name for s in chain[0]] == [
        "app.ops.add_norm", "torch.ops._C.add_norm", "add_norm", "demo::add_norm_kernel"]
    (op,) = mini_index.lookup("torch.ops._C.add_norm")
    assert op.kind == "torch_op" and op.path == "csrc/bindings.cpp" and op.line == 4


def test_pybind_binding(mini_index):
    assert callees(mini_index, "app.ops.fast") == {"fastmod.fast_add": {"exact"}}
    assert callees(mini_index, "fastmod.fast_add") == {"fast_add": {"exact"}}


def test_docs_and_signatures(mini_index):
    (k,) = mini_index.lookup("demo::add_norm_kernel")
    assert "Normalises x in place" in k.doc
    (iface,) = mini_index.lookup("kv::CacheInterface")
    assert iface.doc == "Where blocks come from."
    (fn,) = mini_index.lookup("app.ops.add_norm")
    assert fn.sig == "def add_norm(x)" and fn.doc.startswith("Python wrapper")


def test_parse_errors_cost_only_the_broken_region(mini_index):
    stats = mini_index.stats()
    assert "csrc/broken.cpp" in stats["parse_error_files"]
    names = {r.name for r in mini_index.find("broken::")}
    assert {"broken::ok_before", "broken::ok_after"} <= names
    assert callees(mini_index, "broken::ok_after") == {"broken::ok_before": {"exact"}}


def test_non_utf8_source_is_indexed(mini_index):
    (row,) = mini_index.lookup("latin1")
    assert row.path == "csrc/latin1.cpp"


def test_stable_abi_registrations(mini_index):
    """STABLE_TORCH_LIBRARY_FRAGMENT/_IMPL with TORCH_BOX(&fn), as vLLM's newer bindings use."""
    (op,) = mini_index.lookup("torch.ops._C_stable.stable_add")
    assert op.kind == "torch_op" and op.line == 10
    assert callees(mini_index, "torch.ops._C_stable.stable_add") == {"fast_add": {"exact"}}


def test_ops_registered_from_python(mini_index):
    """vLLM's direct_register_custom_op(op_name=..., op_func=...) makes torch.ops.vllm.<op>."""
    chain = mini_index.paths(ids(mini_index, "app.ops.use_attention"), ids(mini_index, "app.ops.my_attention"))
    assert [s.name for s in chain[0]] == ["app.ops.use_attention", "torch.ops.vllm.my_attention",
                                         "app.ops.my_attention"]
    (op,) = mini_index.lookup("torch.ops.vllm.my_attention")
    assert op.kind == "torch_op" and op.path == "app/ops.py"
