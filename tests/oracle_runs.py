"""What the two vLLM oracle test modules share: the seeds of a run (a fresh random draw plus the
fixed list of tests/oracle/seeds.py), printed in full, and the family loop."""
from __future__ import annotations

import importlib.util
import os
import random
import time
from pathlib import Path

DRAWN = 300  # per family, on top of the fixed seeds


def fixed_seeds(name: str) -> list[int]:
    spec = importlib.util.spec_from_file_location("infernav_oracle_seeds",
                                                  Path(__file__).parent / "oracle" / "seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(getattr(module, name))


def draw_seeds(fixed: list[int]) -> tuple[int, list[int]]:
    """(draw, seeds): DRAWN seeds from a million, then the fixed ones. INFERNAV_ORACLE_SEED=<draw>
    replays a run."""
    draw = int(os.environ.get("INFERNAV_ORACLE_SEED") or time.time_ns() % 1_000_000_007)
    drawn = random.Random(draw).sample(range(20, 1_000_000), DRAWN)
    return draw, drawn + [s for s in fixed if s not in drawn]


def describe(label: str, draw: int, seeds: list[int], fixed: list[int]) -> str:
    return (f"[{label}] seeds: INFERNAV_ORACLE_SEED={draw} drew {DRAWN}: {','.join(map(str, seeds[:DRAWN]))}; "
            f"fixed ({len(fixed)}): {','.join(map(str, fixed))}")
