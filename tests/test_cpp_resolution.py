"""Every C++/CUDA resolution rule on the hand-written `cppres` fixture (tests/fixtures/cppres),
one test per rule; pybind11 linking from Python; linear work in nesting depth."""
from __future__ import annotations

import os
import shutil

import pytest
from helpers import callees, callers, ids

from conftest import FIXTURES

PINS = """
[cppres]
source = "git"
url = "file:///nonexistent/cppres.git"
default = "1"
roots = ["csrc", "py"]
permalink = "https://example.invalid/cppres/{path}#L{line}"
conventions = ["pybind11", "cuda", "gtest"]
defines = { ACTIVE_DEVICE = "DEVICE_GPU" }
"""


@pytest.fixture(scope="module")
def cpp_index(tmp_path_factory):
    from infernav.analyzer import sources
    from infernav.analyzer.indexer import build, index_path
    from infernav.analyzer.query import Index

    tmp = tmp_path_factory.mktemp("cppres")
    src = tmp / "src"
    shutil.copytree(FIXTURES / "cppres", src)
    (tmp / "pins.toml").write_text(PINS)
    saved = {k: os.environ.get(k) for k in ("INFERNAV_HOME", "INFERNAV_PINS")}
    os.environ["INFERNAV_HOME"], os.environ["INFERNAV_PINS"] = str(tmp / "home"), str(tmp / "pins.toml")
    try:
        ref = sources.parse_ref("cppres")
        sources.fetch(ref, path=str(src))
        build(ref, src, jobs=1)
        idx = Index(index_path(ref))
        yield idx
        idx.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _sites(idx, name: str) -> set[tuple[int, str, int, str]]:
    """(call line, callee, callee's line, label) of every call site in `name`."""
    return {(h.line, h.symbol.name, h.symbol.line, h.resolution)
            for h in idx.call_sites(ids(idx, name), "callees")}


# ---------------------------------------------------------------- declarators and names
def test_every_declarator_shape_is_a_definition(cpp_index):
    got = {r.name: r for r in cpp_index.find("decl::")}
    for name in ("decl::Registry::Slot", "decl::Registry::Origin", "decl::Registry::Find",
                 "decl::Registry::Count", "decl::Registry::Last", "decl::Twice", "decl::Picker",
                 "decl::operator<<", "decl::Point::operator==", "decl::Point::operator bool"):
        assert name in got, name
    slot = cpp_index.lookup("decl::Registry::Slot")[0]
    assert (slot.path, slot.line, slot.decl_line) == ("csrc/declarators.cpp", 24, 13)  # reference return
    assert cpp_index.lookup("decl::Registry::Count")[0].decl_line == 16              # trailing return
    assert "decl::fp" not in got                        # `int (*fp)(int) = ...` is a variable


def test_calls_of_reference_returning_and_parenthesized_functions(cpp_index):
    got = callees(cpp_index, "decl::UseAll")
    assert got == {"decl::Registry::Slot": {"type"}, "decl::Registry::Find": {"type"},
                   "decl::Registry::Origin": {"type"}, "decl::Registry::Count": {"type"},
                   "decl::Registry::Last": {"type"}, "decl::Picker": {"exact"}, "decl::Twice": {"exact"},
                   "decl::operator<<": {"type"}}                  # os << *p
    assert callees(cpp_index, "decl::Registry::Last") == {"decl::Registry::Slot": {"exact"}}


def test_user_written_operators_are_called(cpp_index):
    sites = {(h.symbol.name, h.line) for h in cpp_index.call_sites(ids(cpp_index, "decl::Compare"), "callees")}
    assert sites == {("decl::Buffer::operator=", 50), ("decl::operator<<", 51), ("decl::Point::operator==", 52)}


def test_constructions_initializers_and_globals(cpp_index):
    got = {(h.symbol.name, h.line, h.resolution) for h in cpp_index.call_sites(ids(cpp_index, "cons::Build"), "callees")}
    assert got == {("cons::Pool::Pool", 28, "exact"), ("cons::Derived::Derived", 29, "exact"),
                   ("cons::Pool::Pool", 30, "exact"), ("cons::Pool::Pool", 31, "exact"),
                   ("cons::Pool::Size", 32, "type")}
    init = {(h.symbol.name, h.line) for h in cpp_index.call_sites(ids(cpp_index, "cons::Derived::Derived"), "callees")}
    assert init == {("cons::Base::Base", 18), ("cons::Pool::Pool", 18)}
    assert callees(cpp_index, "cons::Holder::Use") == {"cons::Holder::Slot::Fill": {"type"}}


def test_cuda_header_names_are_clean(cpp_index):
    """device_math.h is C++ by extension but uses __device__: parsed with the CUDA grammar."""
    (sq,) = cpp_index.lookup("dev::Square")
    (half,) = cpp_index.lookup("dev::Half")
    assert (sq.kind, half.kind) == ("device", "device")
    assert all(r.name.replace("::", "").replace("_", "").isalnum() for r in cpp_index.find("dev::"))


def test_file_local_functions_stay_in_their_file(cpp_index):
    """Two .cpp files define `Align` for themselves (no header declares it): each calls its own;
    `Shared` is declared in shared.h and defined in shared.cpp: both reach it."""
    for fn, path in (("loc::UseA", "csrc/local_a.cpp"), ("loc::UseB", "csrc/local_b.cpp")):
        got = {(h.symbol.name, h.symbol.path) for h in cpp_index.call_sites(ids(cpp_index, fn), "callees")}
        assert got == {("loc::Align", path), ("loc::Shared", "csrc/shared.cpp")}
    (shared,) = cpp_index.lookup("loc::Shared")
    assert (shared.path, shared.decl_path) == ("csrc/shared.cpp", "csrc/shared.h")


# ---------------------------------------------------------------- gtest fixtures
def test_test_f_body_sees_its_fixture(cpp_index):
    body = "fx::TEST_F(EngineTest, RunsTwice)"
    assert callees(cpp_index, body) == {"fx::EngineTest::Prepare": {"exact"}, "fx::Runner::Run": {"type"}}
    assert callees(cpp_index, "fx::TEST(Standalone, NoFixture)") == {"fx::Runner::Run": {"type"}}
    assert "TEST_F(EngineTest, RunsTwice)" not in {r.short for r in cpp_index.find("fx::EngineTest::")}
    # A catch parameter is a typed local: `e.what()` on std::exception guesses no indexed `what`.
    assert callees(cpp_index, "fx::TEST(Standalone, CatchesStd)") == {"fx::Runner::Run": {"type"}}


# ---------------------------------------------------------------- receiver types
def test_receiver_types_from_returns_singletons_iterators_and_aliases(cpp_index):
    sites = _sites(cpp_index, "rx::Walk")
    touch = {line for line, name, _, res in sites if name == "rx::Block::Touch" and res == "type"}
    assert touch == {69, 71, 73, 74, 75, 77}   # range-for, auto from return, ->second, binding, .at(), *it
    assert (68, "rx::Singleton::GetInstance", 11, "exact") in sites
    assert (68, "rx::Config::Threads", 19, "type") in sites               # Singleton<Config>
    assert {line for line, name, _, _ in sites if name == "rx::Pool::First"} == {70, 75, 77}
    assert (78, "rx::CopyT", 43, "exact") in sites                        # constexpr auto Copy = CopyT<1>
    assert (79, "rx::GpuExt::Sync", 50, "type") in sites                  # ExtTraits<ACTIVE_DEVICE>
    assert not {s for s in sites if s[3] == "name"}


def test_value_alias_reaches_the_configured_specialization(cpp_index):
    """`constexpr auto Sync = SyncT<ACTIVE_DEVICE>` with ACTIVE_DEVICE = DEVICE_GPU (pins defines)."""
    sites = {(h.symbol.name, h.symbol.line) for h in cpp_index.call_sites(ids(cpp_index, "rx::Flush"), "callees")}
    assert sites == {("rx::SyncT", 86)}


# ---------------------------------------------------------------- overloads
def test_overloads_of_one_arity_are_told_apart_by_argument_types(cpp_index):
    put = {r.line: r for r in cpp_index.lookup("ov::Logger::Put")}
    assert sorted(put) == [10, 11, 12, 13, 14]
    by_call = {}
    for line, name, target, res in _sites(cpp_index, "ov::Record"):
        assert res == "type"
        by_call.setdefault(line, set()).add(target)
    assert by_call == {18: {10}, 19: {11}, 20: {12}, 21: {12}, 22: {13}, 23: {14}, 24: {10}, 25: {11}}
    callers_of_int = callers(cpp_index, "ov::Logger::Put")
    assert set(callers_of_int) == {"ov::Record"}
    area = {(line, target) for line, _, target, _ in _sites(cpp_index, "ov::Use")}
    assert area == {(31, 28), (31, 29)}    # Area(2, 3) -> int overload, Area(1.5, 2.0) -> double


# ---------------------------------------------------------------- overrides
def test_overrides_through_interface_and_template_mixin(cpp_index):
    over = cpp_index.overrides(ids(cpp_index, "ovr::Step::Cost"))["overridden_by"]
    assert [r.name for r in over] == ["ovr::Counted::Cost"]          # Counted<Step> derives from Step
    up = cpp_index.overrides(ids(cpp_index, "ovr::Decode::Run"))["overrides"]
    assert [r.name for r in up] == ["ovr::Step::Run"]                # through the mixin
    both = cpp_index.overrides(ids(cpp_index, "ovr::Report::Print"))["overrides"]
    assert sorted(r.name for r in both) == ["ovr::PrintMixin::Print", "ovr::Printable::Print"]
    got = callees(cpp_index, "ovr::Drive")
    assert got["ovr::Step::Cost"] == {"type"} and got["ovr::Counted::Cost"] == {"dispatch"}
    assert got["ovr::Step::Run"] == {"type"} and got["ovr::Decode::Run"] == {"dispatch"}


def test_overrides_through_a_diamond(cpp_index):
    over = cpp_index.overrides(ids(cpp_index, "ovr::Bottom::Visit"))["overrides"]
    assert [r.name for r in over] == ["ovr::Top::Visit"]             # reached once, by two paths
    assert callees(cpp_index, "ovr::Drive")["ovr::Bottom::Visit"] == {"dispatch"}


def test_crtp_base_reaches_the_derived_implementation(cpp_index):
    assert [r.name for r in cpp_index.overrides(ids(cpp_index, "ovr::Gemm::Body"))["overrides"]] == ["ovr::Kernel::Body"]
    assert callees(cpp_index, "ovr::Kernel::Launch") == {"ovr::Gemm::Body": {"dispatch"}}
    assert callees(cpp_index, "ovr::Kernel::Check") == {"ovr::Kernel::self": {"exact"},
                                                        "ovr::Gemm::Validate": {"dispatch"}}


# ---------------------------------------------------------------- kernels
def test_launches_direct_through_launch_api_and_pasted_macro(cpp_index):
    sites = {(h.symbol.name, h.line, h.via, h.resolution)
             for h in cpp_index.call_sites(ids(cpp_index, "kern::Launch"), "callees")}
    assert sites == {("kern::ScaleKernel", 17, "launch", "exact"), ("kern::ShiftKernel", 19, "launch", "exact"),
                     ("kern::InvokeNormKernel", 20, "launch", "exact"),
                     ("kern::InvokeRopeKernel", 21, "launch", "exact")}
    assert {r.kind for r in cpp_index.find("kern::")} == {"kernel", "function"}
    assert callees(cpp_index, "kern::ScaleKernel") == {"dev::Square": {"exact"}}


def test_macro_parameters_pass_through_nested_macros(cpp_index):
    """DISPATCH_ALL(RunT, x) -> DISPATCH_ONE(func, ...) -> func<float>(...): Run calls RunT."""
    sites = {(h.symbol.name, h.line, h.via) for h in cpp_index.call_sites(ids(cpp_index, "kern::Run"), "callees")}
    assert sites == {("kern::RunT", 30, "macro")}
    chain = cpp_index.paths(ids(cpp_index, "kern::Run"), ids(cpp_index, "kern::ScaleKernel"))[0]
    assert [s.name for s in chain] == ["kern::Run", "kern::RunT", "kern::ScaleKernel"]


# ---------------------------------------------------------------- pybind11
def test_pybind_class_lambda_and_method_pointer_from_python(cpp_index):
    assert callees(cpp_index, "app.Worker.__init__") == {"fixmod.Engine": {"exact"}}
    assert callees(cpp_index, "fixmod.Engine") == {"eng::Engine::Engine": {"exact"}}
    assert callees(cpp_index, "app.Worker.go") == {"fixmod.Engine.run": {"type"}, "fixmod.Engine.stop": {"type"}}
    assert callees(cpp_index, "fixmod.Engine.run") == {"eng::Engine::Run": {"type"}}   # inside the lambda
    assert callees(cpp_index, "fixmod.Engine.stop") == {"eng::Engine::Stop": {"exact"}}
    (run,) = cpp_index.lookup("fixmod.Engine.run")
    assert (run.kind, run.path, run.line) == ("pybind", "csrc/bindings.cpp", 17)
    chain = cpp_index.paths(ids(cpp_index, "app.Worker.go"), ids(cpp_index, "eng::Engine::Run"))[0]
    # py/ has no __init__.py: a namespace package (PEP 420), so part of the module name.
    assert [s.name for s in chain] == ["py.app.Worker.go", "fixmod.Engine.run", "eng::Engine::Run"]


# ---------------------------------------------------------------- nesting (hostile depth)
def _nested_namespaces(n: int) -> bytes:
    return ("".join(f"namespace n{i} {{\n" for i in range(n))
            + "void Leaf() {}\nvoid Caller() { Leaf(); }\n" + "}\n" * n).encode()


def _work(source: bytes) -> tuple[int, int, object]:
    """(Python calls made, peak Python memory) of extracting and resolving one file."""
    import sys
    import tracemalloc

    from infernav.analyzer.parse.cpp import extract
    from infernav.analyzer.resolve import resolve

    events = 0

    def count(frame, event, arg):
        nonlocal events
        events += 1

    tracemalloc.start()
    sys.setprofile(count)
    try:
        graph = resolve([extract(source, "deep.cpp", {"lang": "cpp"})], {})
    finally:
        sys.setprofile(None)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return events, peak, graph


def test_nested_namespaces_cost_linear_work():
    """Work (function calls, peak memory) grows linearly with namespace depth: doubling the depth
    at most ~doubles it (the old extractor built every namespace's full name and every prefix of
    it, so doubling the depth quadrupled memory and made 10,000 levels take minutes). Counted,
    not timed; bench/nesting_bench.py times 10,000 levels."""
    _work(_nested_namespaces(10))   # imports and grammar loading are not part of the work
    e1, m1, g1 = _work(_nested_namespaces(1000))
    e2, m2, g2 = _work(_nested_namespaces(2000))
    for g, n in ((g1, 1000), (g2, 2000)):
        leaf = [s for s in g.symbols if s.short == "Leaf"]
        assert len(leaf) == 1 and leaf[0].name.count("::") == n
        assert len(g.edges) == 1
    assert e2 / e1 < 2.4, (e1, e2)
    assert m2 / m1 < 2.6, (m1, m2)


@pytest.mark.parametrize("shape,per_level", [
    ("class C{i} {{\n public:\n  void M{i}();\n  int f{i};\n", 1),
    ("template <typename T{i}>\nstruct S{i} : public Base {{\n  int Get{i}() {{ return {i}; }}\n", 1),
    ("struct P{i} {{\n", 0),
])
def test_deeply_nested_classes_lose_no_symbols(shape, per_level):
    n = 600
    source = ("struct Base {};\n" + "".join(shape.format(i=i) for i in range(n))
              + "  void Deepest() { Deepest(); }\n" + "};\n" * n).encode()
    _, _, graph = _work(source)
    classes = [s for s in graph.symbols if s.kind in ("class", "struct") and s.short != "Base"]
    assert len(classes) == n
    methods = [s for s in graph.symbols if s.kind == "method"]
    assert len(methods) == n * per_level + 1
    (deepest,) = [s for s in graph.symbols if s.short == "Deepest"]
    assert deepest.name.count("::") == n and len(graph.edges) == 1
