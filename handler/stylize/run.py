"""One job's optimisation, advanced a time budget at a time.

:meth:`Run.step` runs iterations until its budget has passed (at least one, or a tile of one) or the job ends, and returns
the snapshots made meanwhile: the CLI and benchmarks step without a budget, the server a slice at a
time across many runs. A run holds all of its state (stage, optimiser, tracker, average) between steps.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from stylize_options import style_side as style_side_read
from torch import Tensor
from torch.nn import functional as F

from . import colour, images, methods, tiles
from . import precision as arithmetic
from .averaging import IterateAverage
from .job import Job
from .methods import StageContext
from .objective import Objective
from .planning import Stage, plan
from .pyramid import Pyramid
from .tiled_objective import TiledObjective
from .vgg import FeatureNet

if TYPE_CHECKING:
    from .engine import Engine

COMPLETED, TIME_BUDGET, CANCELLED = "completed", "time_budget", "cancelled"
SETUP_NICE = 10  # the set-up thread's niceness: other jobs' steps come first (its torch threads inherit it)


def _yield_to_steps() -> None:
    """Run the set-up thread below the steps: on a busy device the other jobs' slices keep their pace (a small job
    beside a big one's set-up took 9 s against 2.2 s alone, at the same priority on a 2-core CPU)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SETUP_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: the same priority
        logger.debug("stage set-up thread: priority unchanged")


# Tiled stages are set up on this one thread (one at a time: their memory is what admission counted for their runs),
# while the runs' steps go on (stylize.run.Run._set_up_aside)
_SETUP = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage-setup", initializer=_yield_to_steps)
SETUP_POLL_S = 0.05  # how long a step waits on a set-up before it lets the caller go on
LBFGS_HISTORY = 100  # curvature pairs L-BFGS keeps (jcjohnson/neural-style's too); an assembled tiled stage keeps fewer
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """One point of the optimisation, small enough to stream."""

    iteration: int  # global, 1..iterations, counted over all stages
    iterations: int
    stage: int  # 1-based multiscale stage
    stages: int
    size: tuple[int, int]  # (width, height) of this stage's image
    losses: dict[str, float]  # content, style, tv, total (weighted total)
    elapsed_s: float
    image: Tensor  # 3 x H x W, float in [0, 1], CPU
    weights: str  # WeightsInfo.tag: vgg16/imagenet-keras | vgg19/imagenet1k_v1 | vgg19/random-init ...
    final: bool = False
    stopped: str | None = None  # on the final record: completed | time_budget | cancelled
    precision: str = arithmetic.FP32  # the network arithmetic this run used: fp32 | bf16
    tile: int = 0  # a tiled stage (stylize.tiles): the tile being optimised, 1-based; 0: the stage is not tiled
    tiles: int = 0  # tiles in the current pass of a tiled stage


class _Pixels:
    """The picture is the optimised tensor itself (the :class:`~stylize.pyramid.Pyramid` interface)."""

    def __init__(self, start: Tensor) -> None:
        self.leaf = start.clone().requires_grad_(True)  # start stays untouched: a fallback restarts from it

    def parameters(self) -> list[Tensor]:
        return [self.leaf]

    def image(self) -> Tensor:
        return self.leaf

    @torch.no_grad()
    def clamp_(self) -> _Pixels:
        self.leaf.clamp_(0, 1)
        return self


Canvas = _Pixels | Pyramid  # what the optimiser updates: image_param=pixels | pyramid


def _picture(canvas: Canvas) -> Tensor:
    """The canvas's current picture, without gradient."""
    with torch.no_grad():
        return canvas.image().detach()


class _Tracker:
    """The optimiser's closure; remembers the best evaluated image and the latest losses.

    The best image is kept with torch.where so that no host sync happens per iteration.
    """

    def __init__(self, objective: Objective | TiledObjective, optimizer: torch.optim.Optimizer, canvas: Canvas) -> None:
        self.objective, self.optimizer, self.canvas = objective, optimizer, canvas
        self.best = _picture(canvas).clone()
        self.best_loss = torch.tensor(math.inf, device=self.best.device)
        self.losses: dict[str, Tensor] = {}
        self.best_losses: dict[str, Tensor] = {}  # the parts of the best image's loss (a tiled stage reports these)

    def closure(self) -> Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        image = self.canvas.image()
        loss, parts = self.objective(image)
        loss.backward()
        detached = loss.detach()
        better = detached < self.best_loss
        self.best = torch.where(better, image.detach(), self.best)
        self.best_loss = torch.where(better, detached, self.best_loss)
        self.losses = parts
        self.best_losses = {k: torch.where(better, v.detach(), self.best_losses[k]) if k in self.best_losses else v.detach()
                            for k, v in parts.items()}
        return loss


@dataclass
class _StageState:
    number: int  # 1-based
    plan: Stage
    start: Tensor  # kept untouched: a bf16 fallback restarts the stage from it
    objective: Objective | TiledObjective
    canvas: Canvas
    optimizer: torch.optim.Optimizer
    tracker: _Tracker
    average: IterateAverage | None
    done: int = 0  # iterations of this stage

    @property
    def image(self) -> Tensor:
        """The picture now: with pixels the optimised tensor itself (the optimiser's state is keyed by it)."""
        return self.canvas.leaf if isinstance(self.canvas, _Pixels) else _picture(self.canvas)


class Run:
    """The state of one job between steps. Build it with :meth:`Engine.start`."""

    def __init__(self, engine: Engine, job: Job, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.job, self.params, self.clock = engine, job, job.params, clock
        self.method = methods.get(self.params.style_loss)
        self.started = clock()
        self.content = engine.tensor(job.content)
        self.styles = [engine.tensor(s) for s in job.styles]
        self.blend = self.params.normalised_blend(len(self.styles))
        self.final_wh = images.fit_size(self.content.shape[-1], self.content.shape[-2], self.params.size)
        self.stages = plan(self.params, (self.content.shape[-1], self.content.shape[-2]))
        self.generator = torch.Generator(device="cpu").manual_seed(self.params.seed)
        self.mode = arithmetic.resolve(self.params.precision, engine.auto)  # this job's; the worker's stays as it is
        self.iteration = 0
        self.busy_s = 0.0  # seconds spent in step(): this run's own compute, not the time others' slices took
        self.stopped: str | None = None  # set when the run ends
        self.finished = False
        self._cancel = False
        self._stage: _StageState | tiles.TiledStage | None = None
        self._setup: futures.Future[_StageState | tiles.TiledStage] | None = None  # a stage being set up aside
        self.tiling: tiles.TileSettings | None = getattr(engine, "tiling", None)  # None: never tiled
        self._image: Tensor | None = None  # the image carried from stage to stage
        self._carried: dict[str, Tensor] | None = None  # schedule=warm: Adam's state at the end of the last stage
        self._losses: dict[str, Tensor] = {}
        self._palette: colour.ColourStats | None = None  # colour_match: the paintings' colours, computed once

    # -- the public surface ----------------------------------------------------------------------

    @property
    def iterations(self) -> int:
        return self.params.iterations

    @property
    def stage(self) -> int:
        """1-based: the stage running now, or the next one to run."""
        return self._stage.number if self._stage is not None else min(self._stage_index() + 1, len(self.stages))

    @property
    def tiled(self) -> bool:
        """Some stage of this run goes tile by tile."""
        return self.tiling is not None and any(self.tiling.applies(st.size) for st in self.stages)

    def step(self, budget_s: float | None = None) -> list[Snapshot]:
        """Advance by at least one iteration (in a tiled stage: one tile's part of one), then on until a snapshot is made or ``budget_s`` seconds have
        passed (None: to the end, every snapshot); return the snapshots made, the final record last once the
        run ends. A step ends at its snapshot so that the server sends each one as soon as it exists."""
        made: list[Snapshot] = []
        began = self.clock()
        while not self.finished:
            snap = self._advance()
            if snap is not None:
                made.append(snap)
                if budget_s is not None:
                    break
            if budget_s is not None and self.clock() - began >= budget_s:
                break
        self.busy_s += self.clock() - began
        return made

    def cancel(self) -> None:
        """End at the next step, with a final record whose ``stopped`` is cancelled."""
        self._cancel = True

    def close(self) -> None:
        """Free the tensors now (the optimiser's history and the stage's targets can be large). A stage set-up under
        way aside is dropped: it ends on its own (it cannot be interrupted) and what it made is freed then."""
        self._stage = None
        if self._setup is not None:
            self._setup.cancel()  # not started yet: it never runs
            self._setup = None
        self._image = self._carried = None
        self.finished = True

    # -- one iteration ---------------------------------------------------------------------------

    def _advance(self) -> Snapshot | None:
        if self._cancel:
            return self._finish(CANCELLED)
        budget = self.params.time_budget_s
        if budget is not None and self.clock() - self.started >= budget:
            return self._finish(TIME_BUDGET)
        if self._stage is None:
            index = self._stage_index()
            if not self._set_up_aside(index):
                self._stage = self._begin_stage(index)
            elif not self._setup_ready(index):
                return None
        st = self._stage
        assert st is not None
        if isinstance(st, tiles.TiledStage):
            return self._advance_tiled(st)
        if isinstance(st.objective, TiledObjective) and not st.objective.ready:
            st.objective.advance(_picture(st.canvas))  # one tile of the gradient: a slice may end between tiles
            return None
        self._optimise_once(st)
        if self.iteration == 0 and self._needs_fp32(st):
            st = self._fall_back_to_fp32(st)
        if st.average is not None:
            st.average.update(st.image)
        st.done += 1
        self.iteration += 1
        snap = None
        every = self.params.snapshot_every
        if every and self.iteration % every == 0 and self.iteration < self.iterations:
            shown = st.image if st.average is None else st.average.value
            tiled = st.objective if isinstance(st.objective, TiledObjective) else None
            # an assembled tiled stage steps the whole picture: how many tiles, not which one (tile 0)
            snap = self._snapshot(shown, st.tracker.losses, tiles_at=(0, tiled.tiles) if tiled else None)
        if st.done == st.plan.iterations:
            self._end_stage(st)
            if self._stage_index() == len(self.stages):
                return self._finish(COMPLETED)
        return snap

    def _advance_tiled(self, st: tiles.TiledStage) -> Snapshot | None:
        """One optimiser step on one tile; the run's iteration moves when the stage's tile steps complete one."""
        completed = st.step()
        snap = None
        every = self.params.snapshot_every
        for _ in range(completed):
            self.iteration += 1
            if every and self.iteration % every == 0 and self.iteration < self.iterations and snap is None:
                snap = self._snapshot(st.result(), st.losses, tiles_at=(st.tile, st.tiles))
        if st.finished:
            self._end_stage(st)
            if self._stage_index() == len(self.stages):
                return self._finish(COMPLETED)
        return snap

    def _set_up_aside(self, index: int) -> bool:
        """Whether stage ``index`` is set up on the set-up thread: a tiled stage, whose style targets, matching and
        content targets pass the whole stage through the network (~100 s at 2048 px on a 2-core CPU). Done inside one
        step, it would hold the server's call past TorchServe's response timeout (the worker is restarted) and stop
        every other job's slices meanwhile."""
        return self.tiling is not None and self.tiling.applies(self.stages[index].size)

    def _setup_ready(self, index: int) -> bool:
        """Start the stage's set-up aside, or take it when done; False while it runs (waits a moment, not a busy loop)."""
        if self._setup is None:
            start = self._start_image(self.stages[index].size)
            self._setup = _SETUP.submit(self._begin_stage, index, start)
        done, _ = futures.wait([self._setup], timeout=SETUP_POLL_S)
        if not done:
            return False
        setup, self._setup = self._setup, None
        self._stage = setup.result()  # its error, if any, is the run's
        return True

    def _stage_index(self) -> int:
        """0-based index of the stage to run next (stages run in order; a finished one left no state)."""
        done = self.iteration
        for i, stage in enumerate(self.stages):
            if done < stage.iterations:
                return i
            done -= stage.iterations
        return len(self.stages)

    def _optimise_once(self, st: _StageState) -> None:
        st.optimizer.step(st.tracker.closure)
        st.canvas.clamp_()

    def _needs_fp32(self, st: _StageState) -> bool:
        """precision=auto promised "same pictures": a bf16 first step that went non-finite is redone in fp32.
        One host sync, on the first step only."""
        if self.mode != arithmetic.BF16 or self.params.precision != arithmetic.AUTO:
            return False
        loss = st.tracker.losses.get("total")
        return not (loss is not None and torch.isfinite(loss).all() and torch.isfinite(st.image).all())

    def _fall_back_to_fp32(self, st: _StageState) -> _StageState:
        logger.warning("precision auto: bf16 gave non-finite values on a first step; this job runs in fp32")
        self.mode = arithmetic.FP32
        self._stage = st = self._begin_stage(st.number - 1, start=st.start)
        self._optimise_once(st)
        return st

    # -- stages ----------------------------------------------------------------------------------

    def _begin_stage(self, index: int, start: Tensor | None = None) -> _StageState | tiles.TiledStage:
        stage = self.stages[index]
        if start is None:
            start = self._start_image(stage.size)
        objective: Objective | TiledObjective
        history = LBFGS_HISTORY
        if self.tiling is not None and self.tiling.applies(stage.size):
            if not self.tiling.assemble:
                return self._begin_tiled(index, start)
            objective, history = self._tiled_objective(stage.size, start), self.tiling.history
        else:
            objective = self._objective(stage.size, start)
        canvas, optimizer, tracker = self._optimiser(objective, start, history)
        average = IterateAverage(self.params.average_decay, start) if self.params.average == "ema" else None
        return _StageState(index + 1, stage, start, objective, canvas, optimizer, tracker, average)

    def _tiled_objective(self, wh: tuple[int, int], start: Tensor) -> TiledObjective:
        """A stage too big for the network at once, optimised whole: its gradient assembled tile by tile. The grid starts
        at the picture's corner: the fewest tiles (a random offset made 20 tiles of a 2048 x 1536 stage instead of 12),
        and with nothing pasted a border needs no moving; consecutive stages' borders fall at other places of the picture."""
        assert self.tiling is not None
        whole = self._objective(wh, start, content_targets=False)
        pieces = tiles.pieces(wh, self.tiling)
        weights = (self.params.content_weight, self.params.style_weight, self.params.tv_weight)
        return TiledObjective(whole, images.resize(self.content, wh), pieces, weights)

    def _begin_tiled(self, index: int, start: Tensor) -> tiles.TiledStage:
        """A stage too big to optimise at once: its style term prepared once (whole style images), the content
        targets and the optimiser per tile visit."""
        assert self.tiling is not None
        stage = self.stages[index]
        self._carried = None  # Adam's image-sized moments do not carry into tile-sized optimisers
        whole = self._objective(stage.size, start, content_targets=False)
        weights = (self.params.content_weight, self.params.style_weight, self.params.tv_weight)
        content = images.resize(self.content, stage.size)

        def objective_for(box: tiles.Box) -> Objective:
            return Objective(whole.net, self.params.content_layers, box.of(content).contiguous(),
                             tiles.crop_term(whole.style, box, stage.size), weights, self.mode)

        average = IterateAverage(self.params.average_decay, start) if self.params.average == "ema" else None
        return tiles.TiledStage(self.tiling, index + 1, stage, start, objective_for, self._optimiser, self.generator, average)

    def _end_stage(self, st: _StageState | tiles.TiledStage) -> None:
        if isinstance(st, tiles.TiledStage):
            self._image, self._carried = st.result(), None
            self._losses = st.losses or self._losses
            self._stage = None
            return
        # the next stage starts from this stage's average, or else its best image
        self._image = st.tracker.best if st.average is None else st.average.value
        self._carried = self._carry(st)
        self._losses = st.tracker.losses or self._losses
        self._stage = None

    def _finish(self, why: str) -> Snapshot:
        if self._stage is not None:  # stopped inside a stage: its best (or averaged) image so far
            self._end_stage(self._stage)
        image = self._image if self._image is not None else self._start_image(self.stages[0].size)
        self.stopped = why
        result = images.resize(image.float(), self.final_wh)
        snap = self._snapshot(result, self._losses, final=True)
        self.close()
        return snap

    def _start_image(self, wh: tuple[int, int]) -> Tensor:
        if self._image is not None:
            start = images.resize(self._image.float(), wh)
        elif self.params.init == "content":
            start = images.resize(self.content, wh)
        elif self.params.init == "style":
            start = images.resize(self.styles[0], wh)
        else:
            start = torch.rand((1, 3, wh[1], wh[0]), generator=self.generator).to(self.engine.device)
        # Images stay NCHW: the channels_last weights already give channels_last activations, and
        # torch.optim.LBFGS flattens the image's gradient with .view(-1), which fails on a channels_last one.
        return start.detach().clone().contiguous()

    def _objective(self, wh: tuple[int, int], start: Tensor, content_targets: bool = True) -> Objective:
        params, job = self.params, self.job
        style_side = style_side_read(max(wh), params.style_scale)
        pieces = None
        if self.tiling is not None and self.tiling.applies(wh):  # the whole style image, at most this big
            style_side = min(style_side, self.tiling.style_side)
            pieces = tiles.pieces(wh, self.tiling)
        styles = [images.resize(s, images.fit_size(s.shape[-1], s.shape[-2], style_side)).contiguous() for s in self.styles]
        device = self.engine.device
        coverage, own = None, [None] * len(styles)
        if job.regions is not None:  # masks follow each stage's size, and each style mask its style image's scaled size
            coverage = job.regions.at(wh, self.blend, device)
            own = [job.regions.style_at(i, (s.shape[-1], s.shape[-2]), device) for i, s in enumerate(styles)]
        style_layers = self.method.layers(params)
        layers = tuple(dict.fromkeys((*params.content_layers, *style_layers)))
        net = FeatureNet(self.engine.convs_for(self.mode), layers, params.pooling).to(device)

        def features(image: Tensor) -> dict[str, Tensor]:
            with arithmetic.autocast(self.mode, image.device):
                return net(image)

        content = images.resize(self.content, wh).contiguous()
        stage = StageContext(params=params, backbone=job.backbone, layers=style_layers,
                             layer_weights=params.normalised_layer_weights() if style_layers == params.style_layers
                             else (1 / len(style_layers),) * len(style_layers),
                             styles=styles, blend=self.blend, coverage=coverage, style_masks=own, features=features,
                             content=content, start=start, pieces=pieces)
        weights = (params.content_weight, params.style_weight, params.tv_weight)
        return Objective(net, params.content_layers, content, self.method.prepare(stage), weights, self.mode,
                         content_targets=content_targets)

    def _optimiser(self, objective: Objective | TiledObjective, start: Tensor,
                   history: int = LBFGS_HISTORY) -> tuple[Canvas, torch.optim.Optimizer, _Tracker]:
        params = self.params
        canvas: Canvas = Pyramid.from_image(start, params.pyramid_levels) if params.image_param == "pyramid" else _Pixels(start)
        leaves = canvas.parameters()
        if params.optimizer == "lbfgs":
            optimizer: torch.optim.Optimizer = torch.optim.LBFGS(leaves, lr=1.0, max_iter=1, history_size=history,
                                                                 tolerance_grad=-1.0, tolerance_change=-1.0)
        else:
            # each pyramid level moves about lr a step and they add up in smooth regions: a level's share keeps
            # the picture's step near learning_rate, the pixels' meaning of it
            lr = params.learning_rate / len(leaves)
            optimizer = torch.optim.Adam(leaves, lr=lr, betas=(0.9, 0.99) if params.schedule == "warm" else (0.9, 0.999))
            carried = self._carried
            if carried is not None and isinstance(canvas, _Pixels):  # warm start: the moments resized (bilinear; squares stay >= 0)
                image = canvas.leaf
                wh = image.shape[-2:]
                optimizer.state[image] = {
                    "step": carried["step"].clone(),
                    "exp_avg": F.interpolate(carried["exp_avg"], size=wh, mode="bilinear", align_corners=False).contiguous(),
                    "exp_avg_sq": F.interpolate(carried["exp_avg_sq"], size=wh, mode="bilinear", align_corners=False).clamp_(min=0).contiguous(),
                }
        return canvas, optimizer, _Tracker(objective, optimizer, canvas)

    def _carry(self, st: _StageState) -> dict[str, Tensor] | None:
        """What schedule=warm hands to the next stage: Adam's moments of pixels (L-BFGS curvature pairs do not resize,
        and a pyramid's level count and shapes change between stages)."""
        if self.params.schedule != "warm" or self.params.optimizer != "adam" or not isinstance(st.canvas, _Pixels):
            return None
        state = st.optimizer.state.get(st.canvas.leaf)
        return {k: state[k] for k in ("step", "exp_avg", "exp_avg_sq")} if state else None

    def _match_colours(self, picture: Tensor) -> Tensor:
        """colour_match: the picture moved to the paintings' palette (blended by share; each region to its style's)."""
        channels, transform = self.params.colour_match, self.params.colour_transform
        # the statistics of a painting hardly change with its size: at most 512 px keeps a huge upload cheap
        styles = [images.resize(s, images.fit_size(s.shape[-1], s.shape[-2], min(512, max(s.shape[-2:])))) for s in self.styles]
        regions, device = self.job.regions, picture.device
        own = [None] * len(styles) if regions is None else [regions.style_at(i, (s.shape[-1], s.shape[-2]), device)
                                                             for i, s in enumerate(styles)]
        if regions is not None:
            coverage = regions.at((picture.shape[-1], picture.shape[-2]), self.blend, device)
            return colour.match_regions(picture, styles, coverage, channels, transform, own)
        if self._palette is None:
            self._palette = colour.palette(styles, self.blend, channels, own)
        return colour.match_to(picture, self._palette, channels, transform)

    def _snapshot(self, image: Tensor, losses: dict[str, Tensor], final: bool = False,
                  tiles_at: tuple[int, int] | None = None) -> Snapshot:
        picture = image.detach().float().clamp(0, 1)  # a pyramid's clamped picture is in range only to float rounding
        if self.params.preserve_colors:
            picture = images.keep_colors(picture, self.content)
        if self.params.colour_match != "none":
            picture = self._match_colours(picture)
        values = {k: float(v.detach().float().sum()) for k, v in losses.items()}
        return Snapshot(iteration=self.iteration, iterations=self.iterations, stage=self.stage, stages=len(self.stages),
                        size=(picture.shape[-1], picture.shape[-2]), losses=values,
                        elapsed_s=round(self.clock() - self.started, 4),
                        # a copy: the optimiser keeps writing into `image` while consumers encode this one
                        image=picture[0].to("cpu", copy=True),
                        weights=self.engine.info.tag, final=final, stopped=self.stopped if final else None, precision=self.mode,
                        tile=tiles_at[0] if tiles_at else 0, tiles=tiles_at[1] if tiles_at else 0)
