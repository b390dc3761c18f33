"""The optimisation loop: one iterator of snapshot records, consumed by the CLI, the TorchServe
handler and the benchmarks alike."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from . import cpu, images
from . import masks as region_masks
from . import precision as arithmetic
from .averaging import IterateAverage
from .losses import Guides, Objective, Terms
from .params import StyleParams
from .vgg import FeatureNet, VGGConvs, build_convs
from .weights import WeightsInfo

BASE_SIZE = 128  # multiscale starts here, like crowsonkb's min_scale
STAGE_GROWTH = math.sqrt(2)
COMPLETED, TIME_BUDGET, CANCELLED = "completed", "time_budget", "cancelled"
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
    precision: str = arithmetic.FP32  # the VGG arithmetic this run used: fp32 | bf16


@dataclass(frozen=True)
class Pause:
    """Yielded by :meth:`Engine.run` when ``pause_every_s`` has passed without a snapshot: a point
    where a scheduler holding several runs can switch to another one. Carries no image."""

    iteration: int
    iterations: int
    stage: int
    stages: int
    elapsed_s: float


def pick_device(gpu_id: int | None = None) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", gpu_id or 0)
    return torch.device("cpu")


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


@dataclass(frozen=True)
class Stage:
    size: tuple[int, int]  # (w, h) of the image optimised in this stage
    iterations: int


def plan(params: StyleParams, content_wh: tuple[int, int]) -> list[Stage]:
    """The stages a run optimises, as :meth:`Engine.run` runs them (fewer iterations than stages
    drops the first, smallest ones). The serving layer sends this to clients for their estimates."""
    sizes = stage_sizes(params.size, params.multiscale)
    # warm (crowsonkb's schedule): the first stage, where the composition forms, gets two shares
    budget = split_iterations(params.iterations, len(sizes), first_shares=2 if params.schedule == "warm" else 1)
    sizes = sizes[len(sizes) - len(budget):]
    return [Stage(images.fit_size(content_wh[0], content_wh[1], side), n) for side, n in zip(sizes, budget, strict=True)]


class _Tracker:
    """The optimiser's closure; remembers the best evaluated image and the latest losses.

    The best image is kept with torch.where so that no host sync happens per iteration.
    """

    def __init__(self, objective: Objective, optimizer: torch.optim.Optimizer, image: Tensor) -> None:
        self.objective, self.optimizer, self.image = objective, optimizer, image
        self.best = image.detach().clone()
        self.best_loss = torch.tensor(math.inf, device=image.device)
        self.losses: dict[str, Tensor] = {}

    def closure(self) -> Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        loss, parts = self.objective(self.image)
        loss.backward()
        detached = loss.detach()
        better = detached < self.best_loss
        self.best = torch.where(better, self.image.detach(), self.best)
        self.best_loss = torch.where(better, detached, self.best_loss)
        self.losses = parts
        return loss


class Engine:
    """Holds one network's VGG conv weights on a device; :meth:`run` performs one style-transfer job."""

    def __init__(self, state: dict[str, Tensor], info: WeightsInfo, device: torch.device | str | None = None,
                 auto: arithmetic.Resolution | None = None) -> None:
        self.device = torch.device(device) if device is not None else pick_device()
        # what precision=auto means here (injectable for tests); fp32 after a non-finite bf16 first step
        self.auto = auto or arithmetic.resolve_auto(self.device)
        self.info = info
        self.cuda = self.device.type == "cuda"
        # channels_last weights make every conv run (and output) channels_last: faster with cuDNN and,
        # by ~13 % per iteration at 128 px, with oneDNN on CPU too (bench/RESULTS.md, threads table).
        self.network = info.network
        self.convs = build_convs(state, info.network, info.input_mean, info.input_std)
        self.convs.to(self.device).to(memory_format=torch.channels_last)
        self._bf16_convs: VGGConvs | None = None
        if self.auto.mode == arithmetic.BF16:
            self.convs_for(arithmetic.BF16)  # now, so that a worker's measured memory in use includes them
        if self.cuda:
            arithmetic.configure_cuda()
        else:
            cpu.keep_freed_memory()

    def convs_for(self, mode: str) -> VGGConvs:
        """The conv layers a ``mode`` pass runs: bf16 mode gets its own bf16 copy of the weights (half
        the fp32 ones' bytes), since autocast casts frozen weights anew on every forward (it caches
        only weights that require grad): 13 weight copies per iteration otherwise."""
        if mode != arithmetic.BF16:
            return self.convs
        if self._bf16_convs is None:
            self._bf16_convs = copy.deepcopy(self.convs).to(torch.bfloat16)
        return self._bf16_convs

    def run(self, content: Image.Image | Tensor, styles: list[Image.Image | Tensor], params: StyleParams,
            should_cancel: Callable[[], bool] | None = None, pause_every_s: float | None = None,
            masks: Sequence[region_masks.MaskInput] | None = None,
            style_masks: Sequence[region_masks.MaskInput] | None = None) -> Iterator[Snapshot | Pause]:
        """Optimise; yield a snapshot every ``snapshot_every`` iterations and a final one.

        With ``pause_every_s`` it also yields a :class:`Pause` whenever that many seconds passed
        since the last thing it yielded, so a server can advance many runs a slice at a time.
        Without it (CLI, benchmarks) only snapshots are yielded.

        ``masks[i]`` / ``style_masks[i]`` (PIL image, tensor or None, any size) restrict style i to a
        region of the content / take it from a region of its own image: see :mod:`stylize.masks`."""
        params = params.validated(n_styles=len(styles), network=self.network)
        regions = region_masks.regions(masks, style_masks, len(styles))  # None: the global blend, as without masks
        start = time.monotonic()
        content_t = self._tensor(content)
        style_ts = [self._tensor(s) for s in styles]
        blend = params.normalised_blend(len(styles))
        layer_w = list(params.style_layer_weights or (1.0,) * len(params.style_layers))
        terms = Terms(params.content_layers, params.style_layers, tuple(w / sum(layer_w) for w in layer_w),
                      params.content_weight, params.style_weight, params.tv_weight, params.style_loss)
        final_wh = images.fit_size(content_t.shape[-1], content_t.shape[-2], params.size)
        stages = plan(params, (content_t.shape[-1], content_t.shape[-2]))
        generator = torch.Generator(device="cpu").manual_seed(params.seed)
        image: Tensor | None = None
        done, stopped = 0, COMPLETED
        mode = arithmetic.resolve(params.precision, self.auto)
        last_losses: dict[str, Tensor] = {}
        last_yield = time.monotonic()
        carried: dict[str, Tensor] | None = None  # schedule=warm: Adam's state at the end of the last stage

        for stage, (wh, stage_iters) in enumerate([(st.size, st.iterations) for st in stages], start=1):
            objective = self._objective(content_t, style_ts, blend, terms, params, wh, regions, mode)
            start_image = self._init(image, params, content_t, style_ts, wh, generator)
            image, optimizer, tracker = self._optimiser(objective, start_image, params, carried)
            average = IterateAverage(params.average_decay, start_image) if params.average == "ema" else None

            for _ in range(stage_iters):
                if should_cancel is not None and should_cancel():
                    stopped = CANCELLED
                    break
                if params.time_budget_s is not None and time.monotonic() - start >= params.time_budget_s:
                    stopped = TIME_BUDGET
                    break
                optimizer.step(tracker.closure)
                with torch.no_grad():
                    image.clamp_(0, 1)
                if done == 0 and mode == arithmetic.BF16 and params.precision == arithmetic.AUTO and not self._finite(tracker):
                    # auto promised "same pictures": redo this first step, and this worker's later jobs, in fp32
                    logger.warning("precision auto: bf16 gave non-finite values on a first step; using fp32 from now on")
                    mode = arithmetic.FP32
                    self.auto = arithmetic.Resolution(mode, f"bf16 gave non-finite values on a first step ({self.auto.reason})")
                    objective = self._objective(content_t, style_ts, blend, terms, params, wh, regions, mode)
                    image, optimizer, tracker = self._optimiser(objective, start_image, params, carried)
                    optimizer.step(tracker.closure)
                    with torch.no_grad():
                        image.clamp_(0, 1)
                if average is not None:
                    average.update(image)
                done += 1
                if params.snapshot_every and done % params.snapshot_every == 0 and done < params.iterations:
                    shown = image if average is None else average.value
                    yield self._snapshot(shown, done, params, stage, len(stages), tracker.losses, start, content_t, mode=mode)
                    last_yield = time.monotonic()
                elif pause_every_s is not None and time.monotonic() - last_yield >= pause_every_s:
                    yield Pause(done, params.iterations, stage, len(stages), round(time.monotonic() - start, 4))
                    last_yield = time.monotonic()
            # the next stage starts from this stage's average, or else its best image
            image = tracker.best if average is None else average.value
            carried = self._carry(optimizer, tracker.image, params)
            last_losses = tracker.losses or last_losses
            if stopped != COMPLETED:
                break

        assert image is not None
        result = images.resize(image.float(), final_wh)
        yield self._snapshot(result, done, params, stage, len(stages), last_losses, start, content_t,
                             final=True, stopped=stopped, mode=mode)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _optimiser(objective: Objective, start_image: Tensor, params: StyleParams,
                   carried: dict[str, Tensor] | None = None) -> tuple[Tensor, torch.optim.Optimizer, _Tracker]:
        image = start_image.clone().requires_grad_(True)  # start_image stays untouched: a fallback restarts from it
        if params.optimizer == "lbfgs":
            optimizer: torch.optim.Optimizer = torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=100,
                                                                 tolerance_grad=-1.0, tolerance_change=-1.0)
        else:
            optimizer = torch.optim.Adam([image], lr=params.learning_rate, betas=(0.9, 0.99) if params.schedule == "warm" else (0.9, 0.999))
            if carried is not None:  # warm start: the moments resized to this stage (bilinear; squares stay >= 0)
                wh = image.shape[-2:]
                optimizer.state[image] = {
                    "step": carried["step"].clone(),
                    "exp_avg": F.interpolate(carried["exp_avg"], size=wh, mode="bilinear", align_corners=False).contiguous(),
                    "exp_avg_sq": F.interpolate(carried["exp_avg_sq"], size=wh, mode="bilinear", align_corners=False).clamp_(min=0).contiguous(),
                }
        return image, optimizer, _Tracker(objective, optimizer, image)

    @staticmethod
    def _carry(optimizer: torch.optim.Optimizer, image: Tensor, params: StyleParams) -> dict[str, Tensor] | None:
        """What schedule=warm hands to the next stage: Adam's moments (L-BFGS curvature pairs do not resize)."""
        if params.schedule != "warm" or params.optimizer != "adam":
            return None
        state = optimizer.state.get(image)
        return {k: state[k] for k in ("step", "exp_avg", "exp_avg_sq")} if state else None

    @staticmethod
    def _finite(tracker: _Tracker) -> bool:
        """One host sync, on the first step only: the loss and the stepped image are finite."""
        loss = tracker.losses.get("total")
        return bool(loss is not None and torch.isfinite(loss).all() and torch.isfinite(tracker.image).all())

    def _tensor(self, img: Image.Image | Tensor) -> Tensor:
        t = images.to_tensor(img) if isinstance(img, Image.Image) else img
        if t.dim() == 3:
            t = t.unsqueeze(0)
        return t.float().to(self.device)

    def _prepare(self, t: Tensor) -> Tensor:
        # Images stay NCHW: the channels_last weights already give channels_last activations, and
        # torch.optim.LBFGS flattens the image's gradient with .view(-1), which fails on a channels_last one.
        return t.contiguous()

    def _objective(self, content: Tensor, styles: list[Tensor], blend: list[float],
                   terms: Terms, params: StyleParams, wh: tuple[int, int],
                   regions: region_masks.Regions | None = None, mode: str = arithmetic.FP32) -> Objective:
        style_side = max(16, round(max(wh) * params.style_scale))
        scaled_styles = [self._prepare(images.resize(s, images.fit_size(s.shape[-1], s.shape[-2], style_side)))
                         for s in styles]
        guides = None
        if regions is not None:  # masks follow each stage's size, and each style mask its style image's scaled size
            own = [regions.style_at(i, (s.shape[-1], s.shape[-2]), self.device) for i, s in enumerate(scaled_styles)]
            guides = Guides(regions.at(wh, blend, self.device), own)
        net = FeatureNet(self.convs_for(mode), terms.content_layers + terms.style_layers, params.pooling).to(self.device)
        return Objective(net, terms, self._prepare(images.resize(content, wh)), scaled_styles, blend, mode, guides)

    def _init(self, previous: Tensor | None, params: StyleParams, content: Tensor, styles: list[Tensor],
              wh: tuple[int, int], generator: torch.Generator) -> Tensor:
        if previous is not None:
            start = images.resize(previous.float(), wh)
        elif params.init == "content":
            start = images.resize(content, wh)
        elif params.init == "style":
            start = images.resize(styles[0], wh)
        else:
            start = torch.rand((1, 3, wh[1], wh[0]), generator=generator).to(self.device)
        return self._prepare(start.detach().clone())

    def _snapshot(self, image: Tensor, done: int, params: StyleParams, stage: int, stages: int,
                  losses: dict[str, Tensor], start: float, content: Tensor, final: bool = False,
                  stopped: str | None = None, mode: str = arithmetic.FP32) -> Snapshot:
        picture = image.detach().float()
        if params.preserve_colors:
            picture = images.keep_colors(picture, content)
        values = {k: float(v.detach().float().sum()) for k, v in losses.items()}
        return Snapshot(iteration=done, iterations=params.iterations, stage=stage, stages=stages,
                        size=(picture.shape[-1], picture.shape[-2]), losses=values,
                        elapsed_s=round(time.monotonic() - start, 4),
                        # a copy: the optimiser keeps writing into `image` while consumers encode this one
                        image=picture[0].to("cpu", copy=True),
                        weights=self.info.tag, final=final, stopped=stopped, precision=mode)
