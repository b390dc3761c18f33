"""Iterate averaging: a bias-corrected exponential moving average of the image being optimised.

The last iterates of Adam (and L-BFGS) jitter around the optimum at the pixel level; their average
keeps what they agree on. The decay ramps up, d_t = min(decay, (1 + t) / (10 + t)) for the t-th
update of a stage (TensorFlow's ``num_updates`` rule), so the average spans roughly the last tenth of
a short stage instead of lagging ~1/(1 − decay) iterations behind it: a 60-iteration stage with
decay 0.99 would otherwise show mostly its early iterates. The bias correction divides by the
weights' sum, Σ (1 − d_i) Π d_j, so the first value is the plain image instead of one pulled to zero.
"""

from __future__ import annotations

import torch
from torch import Tensor

RAMP = 10  # d_t = (1 + t) / (RAMP + t) until it reaches the decay


def decay_at(decay: float, updates: int) -> float:
    """The decay applied by update number ``updates`` (0-based) of a stage."""
    return min(decay, (1 + updates) / (RAMP + updates))


class IterateAverage:
    def __init__(self, decay: float, start: Tensor) -> None:
        self.decay = decay
        self.start = start.detach()
        self.accumulated = torch.zeros_like(self.start)
        self.mass = 0.0  # the weights' sum: 1 − Π d_i
        self.updates = 0

    @torch.no_grad()
    def update(self, image: Tensor) -> None:
        d = decay_at(self.decay, self.updates)
        self.accumulated.mul_(d).add_(image.detach(), alpha=1 - d)
        self.mass = d * self.mass + (1 - d)
        self.updates += 1

    @property
    def value(self) -> Tensor:
        """The average so far (the start image before any update)."""
        if self.updates == 0:
            return self.start
        return self.accumulated / self.mass
