"""The multiscale plan: which sizes a job's stages optimise and how many iterations each gets. The serving
layer sends this plan to clients (``response=plan``, a stream's first line) for their estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import images

BASE_SIZE = 128  # multiscale starts here, like crowsonkb's min_scale
STAGE_GROWTH = math.sqrt(2)


@dataclass(frozen=True)
class Stage:
    size: tuple[int, int]  # (w, h) of the image optimised in this stage
    iterations: int


def stage_sizes(size: int, multiscale: bool) -> list[int]:
    """Longest side per stage: ~128 px growing by about sqrt(2) up to ``size``."""
    if not multiscale or size <= BASE_SIZE * STAGE_GROWTH:
        return [size]
    sizes, s = [], float(BASE_SIZE)
    while s * 1.15 < size:  # skip a stage that would be almost the final size
        sizes.append(round(s))
        s *= STAGE_GROWTH
    return [*sizes, size]


def split_iterations(total: int, stages: int, first_shares: int = 1) -> list[int]:
    """A share per stage (``first_shares`` for the first, smallest one), remainder to the earliest
    (cheapest) stages; no empty stage. Fewer iterations than stages: only the last stages run."""
    stages = min(stages, total)
    shares = [first_shares if stages > 1 and i == 0 else 1 for i in range(stages)]
    rest = total - stages  # one iteration each first, so no stage is empty
    counts = [1 + rest * s // sum(shares) for s in shares]
    for i in range(total - sum(counts)):
        counts[i % stages] += 1
    return counts


def plan(params: Any, content_wh: tuple[int, int]) -> list[Stage]:
    """The stages a run optimises (fewer iterations than stages drops the first, smallest ones)."""
    sizes = stage_sizes(params.size, params.multiscale)
    # warm (crowsonkb's schedule): the first stage, where the composition forms, gets two shares
    budget = split_iterations(params.iterations, len(sizes), first_shares=2 if params.schedule == "warm" else 1)
    sizes = sizes[len(sizes) - len(budget):]
    return [Stage(images.fit_size(content_wh[0], content_wh[1], side), n) for side, n in zip(sizes, budget, strict=True)]
