"""`infernav mcp`: the call graph and the notes as Model Context Protocol tools for coding agents.

A consumer like cli/ and site/: every tool is a thin call into the query API (`query.Index`) or
the notes engine, and answers in the CLI's JSON shapes (query/payloads.py), bounded. Modules:
server (the MCPServer, registration, transports), tools (graph tools), notes_tools (notes and
frameworks), resources (note:// and mechanism:// pages, the prompt, the instructions), state
(open indexes, notes and freshness kept across calls), errors (the CLI's messages as tool errors).
Needs the `mcp` package (`pip install 'infernav[mcp]'`); nothing here is imported by a CLI query.
"""
