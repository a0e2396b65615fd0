"""The documentation site: mkdocs-material pages generated from the index and the notes.

`hook.py` is the mkdocs hook mkdocs.yml names; `builder.py` orchestrates the generated pages,
which `pages_*.py` write one kind at a time; `html.py` is the one escaping boundary every
upstream-derived string crosses. The site reads the index through the query API only.
"""
