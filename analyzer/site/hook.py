"""mkdocs hook: add the pages generated from the index and the notes, and ship the vendored JS.

mkdocs.yml names this file under `hooks:`. Nothing it generates is committed: the pages exist in
memory for the build, and the JavaScript comes from node_modules (npm registry, locked versions)
beside mkdocs.yml.
"""
from __future__ import annotations

import shutil
from pathlib import Path

VENDOR = {
    "mermaid.min.js": ("mermaid", "dist", "mermaid.min.js"),
    "cytoscape.min.js": ("cytoscape", "dist", "cytoscape.min.js"),
}


def _project(config) -> Path:
    """The folder holding mkdocs.yml: the checkout whose docs/dev and node_modules the site reads."""
    return Path(config["config_file_path"]).resolve().parent


def _vendor(config) -> dict[str, Path]:
    modules = _project(config) / "node_modules"
    return {name: modules.joinpath(*parts) for name, parts in VENDOR.items()}


def on_pre_build(config):
    project = _project(config)
    missing = [str(p.relative_to(project)) for p in _vendor(config).values() if not p.exists()]
    if missing:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"missing {', '.join(missing)}: run `npm ci` in {project} (make does it)")


def on_files(files, config):
    from mkdocs.structure.files import File

    from infernav.analyzer.site.builder import SiteBuilder
    from infernav.analyzer.workspace import open_index

    builder = SiteBuilder(lambda name: open_index(name), _project(config))
    pages = builder.build()
    _say_inputs(builder)
    for path, content in sorted(pages.items()):
        files.append(File.generated(config, path, content=content))
    return files


def _say_inputs(builder) -> None:
    """Which engines this build found, on stderr even under `mkdocs build -q`: a site built from
    the wrong cache (INFERNAV_HOME unset where `make` had it set) must not look like a good one."""
    import sys

    from infernav.analyzer.sources.pins import home

    have = [f.ref.key for f in builder.fw.values() if f.index is not None]
    missing = [f"{f.ref.key} ({f.reason})" for f in builder.fw.values() if f.index is None]
    print(f"infernav site: cache {home()}; engines indexed: {', '.join(have) or 'none'}"
          + (f"; not indexed: {'; '.join(missing)}" if missing else ""), file=sys.stderr)
    if not have:
        print("infernav site: WARNING: no engine is indexed, so the site has no code in it. Run `make` "
              "(fetch + index), or point INFERNAV_HOME at the cache that holds the indexes.", file=sys.stderr)


def on_post_build(config):
    out = Path(config["site_dir"]) / "assets" / "vendor"
    out.mkdir(parents=True, exist_ok=True)
    for name, src in _vendor(config).items():
        shutil.copyfile(src, out / name)
