"""The engine: one network's weights on a device, and the jobs run with them.

:meth:`Engine.start` begins a job and returns its :class:`~stylize.run.Run`, which a server advances a
time budget at a time; :meth:`Engine.run` is the same as one iterator of snapshot records for the CLI
and the benchmarks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence

import torch
from PIL import Image
from torch import Tensor

from . import cpu, images, tiles
from . import masks as region_masks
from . import precision as arithmetic
from .job import ImageInput, Job, make_job
from .params import StyleParams
from .planning import Stage, plan
from .provenance import WeightsInfo
from .run import CANCELLED, COMPLETED, TIME_BUDGET, Run, Snapshot
from .vgg import VGGConvs, build_convs

__all__ = ["CANCELLED", "COMPLETED", "TIME_BUDGET", "Engine", "Run", "Snapshot", "Stage", "pick_device", "plan"]


def pick_device(gpu_id: int | None = None) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", gpu_id or 0)
    return torch.device("cpu")


class Engine:
    """Holds one network's conv weights on a device; :meth:`start` begins a style-transfer job."""

    def __init__(self, state: dict[str, Tensor], info: WeightsInfo, device: torch.device | str | None = None,
                 auto: arithmetic.Resolution | None = None, tiling: tiles.TileSettings | None = None) -> None:
        self.device = torch.device(device) if device is not None else pick_device()
        # when a stage is optimised tile by tile (stylize.tiles): above a per-device pixel count
        self.tiling = tiling or tiles.for_device(self.device)
        # what precision=auto means on this device (injectable for tests); a job that falls back to fp32
        # does so alone: this stays as it is
        self.auto = auto or arithmetic.resolve_auto(self.device)
        self.info = info
        self.cuda = self.device.type == "cuda"
        self.network = info.network
        # channels_last weights make every conv run (and output) channels_last: faster with cuDNN and,
        # by ~13 % per iteration at 128 px, with oneDNN on CPU too (benchmarks, threads table).
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

    def job(self, content: ImageInput, styles: Sequence[ImageInput], params: StyleParams,
            masks: Sequence[region_masks.MaskInput] | None = None,
            style_masks: Sequence[region_masks.MaskInput] | None = None) -> Job:
        """A job for this engine's network, validated (see :func:`stylize.job.make_job`)."""
        return make_job(content, styles, params, network=self.network, masks_over_content=masks, style_masks=style_masks)

    def start(self, job: Job, clock: Callable[[], float] | None = None) -> Run:
        """Begin ``job`` (built by :meth:`job` or :func:`~stylize.job.make_job` for this network)."""
        if not isinstance(job, Job) or job.backbone.name != self.network:
            raise TypeError(f"Engine.start needs a Job made for {self.network}")
        return Run(self, job, clock) if clock is not None else Run(self, job)

    def run(self, job: Job, should_cancel: Callable[[], bool] | None = None) -> Iterator[Snapshot]:
        """The whole job as an iterator: a snapshot every ``snapshot_every`` iterations, then exactly one
        final record (image at the requested size). ``should_cancel`` is asked before every iteration."""
        run = self.start(job)
        try:
            while not run.finished:
                if should_cancel is not None and should_cancel():
                    run.cancel()
                yield from run.step(0.0)  # one iteration at a time: each snapshot goes out as soon as it exists
        finally:
            run.close()

    def plan(self, params: StyleParams, content_wh: tuple[int, int]) -> list[Stage]:
        return plan(params, content_wh)

    def tensor(self, img: Image.Image | Tensor) -> Tensor:
        """An input image as a 1x3xHxW float tensor on this engine's device."""
        t = images.to_tensor(img) if isinstance(img, Image.Image) else img
        if t.dim() == 3:
            t = t.unsqueeze(0)
        return t.float().to(self.device)
