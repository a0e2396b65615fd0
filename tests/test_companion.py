"""Issue 18: a companion source (SGLang's sgl-kernel) given with `fetch NAME --with COMP=DIR`.

A self-written fake framework `fakefw` whose Python calls `from kpkg import op_a`; the companion
`kpkg-kernels` holds the wrapper (`torch.ops.kns.op_a.default(x)`) and a `.cu` file registering the
op with TORCH_LIBRARY_FRAGMENT and launching a `__global__` kernel from the host function. The
framework comes from a tarball whose sha256 is pinned (no network); the CLI runs as a real process.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "infernav.analyzer.cli"]

PINS = """
[fakefw]
source = "git"
url = "file:///nonexistent/fakefw.git"
default = "1"
roots = ["app"]
permalink = "https://example.invalid/fakefw/{{path}}#L{{line}}"
conventions = ["torch", "cuda"]

[fakefw.versions."1"]
archive_sha256 = "{sha}"

[fakefw.companions.kpkg-kernels]
folder = "kpkg-kernels"
roots = ["csrc", "python/kpkg"]
permalink = "https://example.invalid/kpkg/{{path}}#L{{line}}"
"""

APP = {
    "app/__init__.py": "",
    "app/model.py": """
        from kpkg import op_a


        def forward(x):
            return op_a(x)
        """,
}

COMPANION = {
    "python/kpkg/__init__.py": "from kpkg.ops import op_a\n",
    "python/kpkg/ops.py": """
        import torch


        def op_a(x):
            return torch.ops.kns.op_a.default(x)
        """,
    "csrc/op_a.cu": """
        #include <torch/library.h>

        __global__ void op_a_kernel(float* out, const float* in, int n) {
          int i = blockIdx.x * blockDim.x + threadIdx.x;
          if (i < n) out[i] = in[i] * 2.0f;
        }

        torch::Tensor op_a_host(torch::Tensor x) {
          auto out = torch::empty_like(x);
          op_a_kernel<<<1, 128>>>(out.data_ptr<float>(), x.data_ptr<float>(), x.numel());
          return out;
        }

        TORCH_LIBRARY_FRAGMENT(kns, m) {
          m.def("op_a(Tensor x) -> Tensor");
          m.impl("op_a", torch::kCUDA, &op_a_host);
        }
        """,
}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture
def fake(tmp_path):
    """(env, framework archive, a checkout holding the companion folder, the companion folder)."""
    src = tmp_path / "fakefw-1"
    _write(src, APP)
    archive = tmp_path / "fakefw-1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="fakefw-1")
    repo = tmp_path / "repo"
    _write(repo / "kpkg-kernels", COMPANION)
    (repo / "README.md").write_text("a checkout of the whole project\n")
    pins = tmp_path / "pins.toml"
    pins.write_text(PINS.format(sha=hashlib.sha256(archive.read_bytes()).hexdigest()))
    env = {"INFERNAV_HOME": str(tmp_path / "home"), "INFERNAV_PINS": str(pins), "NO_COLOR": "1"}
    return env, archive, repo, repo / "kpkg-kernels"


def cli(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def one_line_error(r: subprocess.CompletedProcess, status: int) -> str:
    assert r.returncode == status, (r.returncode, r.stderr, r.stdout[-500:])
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def _kernel_path(env: dict) -> dict:
    r = cli(env, "path", "app.model.forward", "op_a_kernel", "-f", "fakefw", "--json")
    return {"rc": r.returncode, **(json.loads(r.stdout) if r.stdout.strip() else {})}


def test_without_the_companion_only_the_python_is_indexed(fake):
    env, archive, _, _ = fake
    assert cli(env, "fetch", "fakefw", "--path", archive).returncode == 0
    r = cli(env, "index", "fakefw", "--json", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["files"] == 2          # app/__init__.py, app/model.py
    assert cli(env, "find", "op_a_kernel", "-f", "fakefw").returncode == 1
    assert cli(env, "find", "forward", "-f", "fakefw").returncode == 0


@pytest.mark.parametrize("given", ["checkout", "folder", "archive"])
def test_the_companion_links_python_to_the_kernel(fake, tmp_path, given):
    env, archive, repo, folder = fake
    with_dir = {"checkout": repo, "folder": folder}.get(given)
    if given == "archive":
        with_dir = tmp_path / "kpkg.tar.gz"
        with tarfile.open(with_dir, "w:gz") as tar:
            tar.add(folder, arcname="kpkg-kernels-main")
    r = cli(env, "fetch", "fakefw", "--path", archive, "--with", f"kpkg-kernels={with_dir}", "--json")
    assert r.returncode == 0, r.stderr
    warn = [x for x in r.stderr.splitlines() if "unverified" in x]
    assert len(warn) == 1 and "kpkg-kernels" in warn[0], r.stderr
    placed = Path(env["INFERNAV_HOME"]) / "sources" / "fakefw@1" / "kpkg-kernels"
    assert json.loads(r.stdout)["results"][0]["companions"] == {"kpkg-kernels": str(placed)}
    r = cli(env, "index", "fakefw", "--json", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["files"] == 5   # 2 app + 2 wrapper + 1 .cu (README not a root)
    index = Path(env["INFERNAV_HOME"]) / "index" / "fakefw@1.sqlite"
    roots = dict(sqlite3.connect(index).execute("SELECT key, value FROM meta"))["roots"].split("\n")
    assert roots[0] == "app" and any(r.startswith("kpkg-kernels/") for r in roots), roots   # the site lists them
    doc = _kernel_path(env)
    assert doc["rc"] == 0, doc
    assert doc["paths"][0] == ["app.model.forward", "kpkg.ops.op_a", "torch.ops.kns.op_a", "op_a_host",
                               "op_a_kernel"]
    assert [h["via"] for h in doc["hops"][0]] == ["call", "torch-op", "registration", "launch"]
    assert all(h["resolution"] == "exact" for h in doc["hops"][0]), doc["hops"]
    show = json.loads(cli(env, "show", "op_a_host", "-f", "fakefw", "--json").stdout)
    assert show["symbols"][0]["permalink"] == "https://example.invalid/kpkg/kpkg-kernels/csrc/op_a.cu#L8"


def test_the_companion_is_covered_by_verification(fake):
    """An edit to a companion file after the fetch is caught before an index trusts the tree."""
    env, archive, repo, _ = fake
    assert cli(env, "fetch", "fakefw", "--path", archive, "--with", f"kpkg-kernels={repo}").returncode == 0
    placed = Path(env["INFERNAV_HOME"]) / "sources" / "fakefw@1" / "kpkg-kernels"
    marker = json.loads((placed / ".infernav-source.json").read_text())
    assert marker["given"] == str(repo) and marker["verified"] is False
    assert sorted(marker["files"]) == ["csrc/op_a.cu", "python/kpkg/__init__.py", "python/kpkg/ops.py"]
    (placed / "csrc" / "op_a.cu").write_text("// edited\n")
    line = one_line_error(cli(env, "index", "fakefw"), 1)
    assert "kpkg-kernels/csrc/op_a.cu changed" in line
    # fetching again restores the framework and keeps the companion given before, as given
    assert cli(env, "fetch", "fakefw", "--path", archive, "--with", f"kpkg-kernels={repo}").returncode == 0
    assert cli(env, "index", "fakefw", "-q").returncode == 0


@pytest.mark.parametrize("as_json", [False, True])
def test_bad_with_arguments_are_one_line_errors(fake, tmp_path, as_json):
    env, archive, repo, _ = fake
    j = ["--json"] if as_json else []
    cases = [
        (["--with", f"nope={repo}"], 2, "unknown companion 'nope'"),
        (["--with", "kpkg-kernels"], 2, "COMPANION=DIR"),
        (["--with", f"kpkg-kernels={tmp_path / 'missing'}"], 1, "does not exist"),
        (["--with", f"kpkg-kernels={tmp_path}"], 1, "holds none of"),
    ]
    for extra, status, words in cases:
        r = cli(env, "fetch", "fakefw", "--path", archive, *extra, *j)
        line = one_line_error(r, status)
        assert words in line, line
        if as_json:
            doc = json.loads(r.stdout)
            assert doc["error"] and words in doc["message"], doc
    # nothing was placed by the failed calls
    assert not (Path(env["INFERNAV_HOME"]) / "sources" / "fakefw@1" / "kpkg-kernels").exists()


def test_with_needs_a_framework_that_has_companions(fake):
    env, archive, repo, _ = fake
    r = cli(env, "fetch", "--all", "--with", f"kpkg-kernels={repo}")
    assert "one framework" in one_line_error(r, 2)


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def test_a_pinned_commit_is_exported_verified(fake):
    """With `commits` pinned for the version, a git repository holding the commit gives that commit's
    folder (a later commit and an edited work tree do not leak in), verified, with no warning."""
    env, archive, repo, folder = fake
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "kernels")
    pinned = _git(repo, "rev-parse", "HEAD")
    (folder / "csrc" / "later.cu").write_text("__global__ void later_kernel() {}\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "later")
    (folder / "csrc" / "op_a.cu").write_text("// uncommitted edit\n")
    pins = Path(env["INFERNAV_PINS"])
    kpkg = 'permalink = "https://example.invalid/kpkg/'
    pins.write_text(pins.read_text().replace(kpkg, f'commits = {{ "1" = "{pinned}" }}\n{kpkg}'))
    r = cli(env, "fetch", "fakefw", "--path", archive, "--with", f"kpkg-kernels={repo}")
    assert r.returncode == 0 and "unverified" not in r.stderr, r.stderr
    placed = Path(env["INFERNAV_HOME"]) / "sources" / "fakefw@1" / "kpkg-kernels"
    marker = json.loads((placed / ".infernav-source.json").read_text())
    assert marker["verified"] is True and marker["commit"] == pinned
    assert not (placed / "csrc" / "later.cu").exists()
    assert cli(env, "index", "fakefw", "-q").returncode == 0
    assert _kernel_path(env)["rc"] == 0
    # a plain folder is still taken, unverified, and the warning names the pin it could not check
    r = cli(env, "fetch", "fakefw", "--path", archive, "--with", f"kpkg-kernels={tmp_copy(folder)}")
    assert r.returncode == 0 and f"the pinned commit {pinned[:12]} is not in it" in r.stderr, r.stderr


def tmp_copy(folder: Path) -> Path:
    import shutil

    out = folder.parent.parent / "plain-copy"
    shutil.copytree(folder, out, ignore=shutil.ignore_patterns(".git"))
    return out


def test_a_linked_checkout_is_not_written_into(fake, tmp_path):
    """`--path DIR` links the user's own tree; `--with` never writes into it and says where to put it."""
    env, _, repo, _ = fake
    line = one_line_error(cli(env, "fetch", "fakefw", "--path", tmp_path / "fakefw-1", "--with",
                              f"kpkg-kernels={repo}"), 1)
    assert "your own checkout" in line and str(tmp_path / "fakefw-1" / "kpkg-kernels") in line
    assert not (tmp_path / "fakefw-1" / "kpkg-kernels").exists()


def test_fetch_without_with_keeps_a_placed_companion(fake):
    env, archive, repo, _ = fake
    assert cli(env, "fetch", "fakefw", "--path", archive, "--with", f"kpkg-kernels={repo}").returncode == 0
    r = cli(env, "fetch", "fakefw", "--path", archive)
    assert r.returncode == 0 and "unverified" not in r.stderr, r.stderr
    assert cli(env, "index", "fakefw", "-q").returncode == 0
    assert _kernel_path(env)["rc"] == 0
