"""What this worker's device does per second: measured at start-up on tiny jobs (the pixel rate, for the web
app's estimates, first-run size and size presets, and each style method's own cost per iteration), then the pixel
rate follows the jobs it finishes (``learned``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image
from stylize import Engine, Stage, StyleParams, methods, plan, tiles

# The first run a new user makes should show a result in about this long: the web app's first preset.
PREVIEW_TARGET_S = 15.0
PREVIEW_ITERATIONS = 100
# Below 192 px a first result reads as a blurry thumbnail: a slow server gets fewer iterations instead.
PREVIEW_SIZES = range(192, 512 + 1, 16)
MIN_PREVIEW_ITERATIONS = 20


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


# A finished job's own rate moves the server's figure by this share: a start-up probe on a loaded machine (or a
# machine that got faster) stops misleading every estimate after a few jobs.
LEARNING_SHARE = 0.3
# Shorter jobs are mostly set-up (feature extraction, first-step warm-up): their rate says little.
MIN_LEARNING_S = 2.0


def learned(current: Speed, stages: Sequence[Stage], style_loss: str, busy_s: float, tiled: bool) -> Speed:
    """The server's speed after a job that ran all its ``stages`` in ``busy_s`` seconds of its own compute.
    Only untiled jobs of the default method teach the pixel rate (the others add their own costs, which the
    per-method figures and the tiling already stand for)."""
    work = sum(st.size[0] * st.size[1] * st.iterations for st in stages)
    if tiled or style_loss != methods.DEFAULT or busy_s < MIN_LEARNING_S or work <= 0:
        return current
    observed = work / busy_s
    rate = observed if current.pixel_iterations_per_s <= 0 else (
        (1 - LEARNING_SHARE) * current.pixel_iterations_per_s + LEARNING_SHARE * observed)
    return replace(current, pixel_iterations_per_s=rate)


# A tiled stage of a statistics method (Gram, W2) reads its tiles twice an iteration: a forward pass for the whole
# picture's statistics, then forward and backward; a forward is about a third of the pair.
STATISTICS_PASS = 4 / 3


def stage_work(stage: Stage, style_loss: str, tiling: tiles.TileSettings | None = None) -> float:
    """Pixel-iterations of one stage as the network does them: a tiled stage's tiles also see their margins."""
    work = float(stage.size[0] * stage.size[1] * stage.iterations)
    if tiling is None or not tiling.applies(stage.size):
        return work
    passes = STATISTICS_PASS if tiling.assemble and isinstance(methods.get(style_loss), methods.StatisticsMethod) else 1.0
    return work * tiling.overhead(stage.size) * passes


def estimate_seconds(stages: Sequence[Stage], speed: Mapping[str, Any] | None, style_loss: str,
                     tiling: tiles.TileSettings | None = None) -> float | None:
    """Seconds a job of these stages takes here: stage pixels x iterations (tiled stages: what their tiles and
    margins add) at the measured pixel rate, plus the style method's own cost per iteration. None when this
    server reports no speed."""
    rate = (speed or {}).get("pixel_iterations_per_s") or 0
    if rate <= 0:
        return None
    extra = float((speed or {}).get("style_loss_s_per_iteration", {}).get(style_loss) or 0.0)
    work = sum(stage_work(st, style_loss, tiling) for st in stages)
    return round(work / rate + sum(st.iterations for st in stages) * extra, 2)


def preview(speed: Mapping[str, Any], max_size: int, max_iterations: int) -> dict[str, Any]:
    """The first-run job for this server (a square content, default parameters): the largest size of
    PREVIEW_SIZES whose PREVIEW_ITERATIONS take about PREVIEW_TARGET_S; where even the smallest is too slow,
    fewer iterations (at least MIN_PREVIEW_ITERATIONS). Planned by the engine's own planner."""
    base = StyleParams()

    def seconds(size: int, iterations: int) -> float:
        job = replace(base, size=size, iterations=iterations)
        return estimate_seconds(plan(job, (size, size)), speed, base.style_loss) or 0.0

    sizes = [s for s in PREVIEW_SIZES if s <= max_size] or [max_size]
    iterations = min(PREVIEW_ITERATIONS, max_iterations)
    size = sizes[0]
    for candidate in sizes:
        if seconds(candidate, iterations) <= PREVIEW_TARGET_S:
            size = candidate
    while iterations > MIN_PREVIEW_ITERATIONS and seconds(size, iterations) > PREVIEW_TARGET_S:
        iterations -= 5
    known = estimate_seconds([], speed, base.style_loss) is not None
    return {"size": size, "iterations": iterations, "seconds": seconds(size, iterations) if known else None}
