"""What this worker's device does per second, measured once at start-up on tiny jobs: the pixel rate (the
web app's estimates and first-run size) and each style method's own cost per iteration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image
from stylize import Engine, StyleParams, methods


@dataclass(frozen=True)
class Speed:
    pixel_iterations_per_s: float
    # seconds each style method adds per iteration over the default method's, whatever the image size
    # (W2's matrix roots are per layer, not per pixel)
    style_loss_s_per_iteration: dict[str, float]


def seconds_per_iteration(engine: Engine, side: int, **params: Any) -> float:
    """Seconds of iterations 2 and 3 of a small single-scale run (past the first's warm-up), halved."""
    picture = Image.new("RGB", (side, side), (128, 96, 64))
    job = engine.job(picture, [picture], StyleParams(size=side, iterations=3, snapshot_every=1, multiscale=False, **params))
    snaps = list(engine.run(job))
    return (snaps[-1].elapsed_s - snaps[0].elapsed_s) / 2


def measure(engine: Engine) -> Speed:
    seconds = seconds_per_iteration(engine, 128)
    rate = 128 * 128 / seconds if seconds > 0 else 0.0
    per_method = {name: seconds_per_iteration(engine, 64, **methods.get(name).probe()) for name in methods.NAMES}
    base = per_method[methods.DEFAULT]
    return Speed(rate, {name: round(max(0.0, s - base), 4) for name, s in per_method.items()})
