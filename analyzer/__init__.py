"""infernav analyzer: index inference-engine sources into a call graph and query it."""
