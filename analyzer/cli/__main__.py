"""`python -m infernav.analyzer.cli ...` runs the CLI."""
from . import run

run()
