"""mkdocs hook: add the pages generated from the index and the notes, and ship the vendored JS.

mkdocs.yml names this file under `hooks:`. Nothing it generates is committed: the pages exist in
memory for the build, and the JavaScript comes from node_modules (npm registry, locked versions).
"""
from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = {
    "mermaid.min.js": REPO / "node_modules" / "mermaid" / "dist" / "mermaid.min.js",
    "cytoscape.min.js": REPO / "node_modules" / "cytoscape" / "dist" / "cytoscape.min.js",
}


def on_pre_build(config):
    missing = [str(p.relative_to(REPO)) for p in VENDOR.values() if not p.exists()]
    if missing:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"missing {', '.join(missing)}: run `npm ci` in {REPO} (make does it)")


def on_files(files, config):
    from mkdocs.structure.files import File

    from infernav.analyzer.sitegen import SiteBuilder
    from infernav.analyzer.workspace import open_index

    pages = SiteBuilder(lambda name: open_index(name), REPO).build()
    for path, content in sorted(pages.items()):
        files.append(File.generated(config, path, content=content))
    return files


def on_post_build(config):
    out = Path(config["site_dir"]) / "assets" / "vendor"
    out.mkdir(parents=True, exist_ok=True)
    for name, src in VENDOR.items():
        shutil.copyfile(src, out / name)
