"""Runs benchmark jobs and prints one ``RESULT {json}`` line per job.

The parent (``python -m bench``) starts one fresh process per job, so peak-memory figures are not
hidden by memory that an earlier job left in the allocator, and timings don't share caches.
"""

from __future__ import annotations

import gc
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import torch
from stylize import Engine, StyleParams, cpu, images, weights
from stylize import precision as arithmetic
from torch import Tensor

from . import baseline, precision, scenes
from .floor import clock, floor_step, plain_floor_step
from .metric import Metric


class PeakMemory:
    """Peak extra memory of one job.

    CUDA: torch.cuda.max_memory_allocated minus the allocation before the job (tensor memory).
    CPU: the process's peak resident set size (VmHWM, reset to the current RSS through
    /proc/self/clear_refs just before the job) minus the RSS before the job: every page the job
    touched at its high point, tensors plus allocator and library overhead. Without clear_refs,
    RSS is sampled by a thread every 2 ms instead (may miss short peaks).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = "cuda.max_memory_allocated" if device.type == "cuda" else "VmHWM"
        self.base = 0
        self._sampled = 0
        self._stop = False
        self._thread: Any = None

    @staticmethod
    def _status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def start(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.base = self._status("VmRSS")
        except OSError:
            import threading

            self.method = "RSS sampled every 2 ms"
            proc = psutil.Process()
            self.base = self._sampled = proc.memory_info().rss

            def sample() -> None:
                while not self._stop:
                    self._sampled = max(self._sampled, proc.memory_info().rss)
                    time.sleep(0.002)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        elif self._thread is not None:
            self._stop = True
            self._thread.join()
            peak = self._sampled
        else:
            peak = self._status("VmHWM")
        return max(0, peak - self.base) / 2**20


def set_channels_last(eng: Engine, on: bool) -> None:
    """Override the conv weights' memory format (an experiment; the engine picks one per device).

    The image stays NCHW either way: convolutions follow channels_last weights on their own, and
    torch.optim.LBFGS needs a gradient it can .view(-1), which a channels_last image's is not.
    """
    eng.convs = eng.convs.to(memory_format=torch.channels_last if on else torch.contiguous_format)
    eng._bf16_convs = None  # derived from eng.convs on next use, in the new format


def per_iteration(durations: list[float]) -> dict[str, Any]:
    """Median (robust to other processes on a shared CPU) and mean seconds per iteration."""
    return {"s_per_it": statistics.median(durations), "mean_s_per_it": statistics.fmean(durations),
            "min_s_per_it": min(durations), "durations": durations}


def run_floor(eng: Engine, job: dict[str, Any]) -> dict[str, Any]:
    """``iterations`` timed floor steps after one warm-up step."""
    now = clock(eng.device)
    # layout "plain": the tutorial's network and layout, the baseline's own floor
    plain = job.get("layout", "engine") == "plain"
    step = plain_floor_step(weights_state(), eng.device, job["size"], job["layer"]) if plain else floor_step(eng, job["size"], job["layer"])
    n = job["iterations"]
    mem = PeakMemory(eng.device)
    mem.start()
    stamps = [now()]
    for _ in range(n + 1):
        step()
        stamps.append(now())
    steps = [b - a for a, b in itertools.pairwise(stamps[1:])]  # stamps[0] -> [1] is the warm-up
    return {**per_iteration(steps), "warmup_s": stamps[1] - stamps[0],
            "seconds": stamps[-1] - stamps[0], "iterations": n, "peak_mb": mem.peak_mb(), "memory": mem.method}


def run_engine(eng: Engine, job: dict[str, Any], content: Tensor, style: Tensor) -> dict[str, Any]:
    """One engine job. Kept snapshot images are scored after the run; the time the benchmark
    spends between snapshots is subtracted from later elapsed figures."""
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in job["params"].items()}  # JSON lists -> tuples
    params = StyleParams(**{"size": job["size"], "seed": 0, **overrides})
    quality = job.get("quality", False)
    now = clock(eng.device)
    mem = PeakMemory(eng.device)
    mem.start()
    overhead = 0.0
    records: list[tuple[int, float, Tensor | None, tuple[int, int]]] = []
    t0 = now()
    last = None
    for snap in eng.run(eng.job(content, [style], params)):
        c0 = time.perf_counter()
        # Snapshot images are the engine's own copies: keep the ones the trace scores.
        keep = quality and (snap.final or snap.iteration <= 20 or snap.iteration % job.get("trace_every", 1) == 0)
        records.append((snap.iteration, snap.elapsed_s - overhead, snap.image if keep else None, snap.size))
        last = snap
        overhead += time.perf_counter() - c0
    seconds = now() - t0 - overhead
    peak = mem.peak_mb()
    assert last is not None and last.final
    out: dict[str, Any] = {"seconds": seconds, "iterations": last.iteration, "stopped": last.stopped,
                           "stages": last.stages, "peak_mb": peak, "memory": mem.method, "weights": last.weights}
    if params.snapshot_every == 1 and len(records) >= 2:
        # Iteration 1 is the warm-up: per-iteration costs from the elapsed time between snapshots.
        elapsed = [e for _, e, *_ in records]
        out.update(per_iteration([b - a for a, b in itertools.pairwise(elapsed)]))
    else:
        out["s_per_it"] = out["mean_s_per_it"] = seconds / max(1, last.iteration)
    if quality:
        metric = Metric(eng.convs, content, style, (job["size"], job["size"]))
        out["copies_mb"] = sum(img.numel() * img.element_size() for _, _, img, _ in records if img is not None) / 2**20
        out["trace"] = [{"iteration": it, "elapsed_s": el, "size": list(sz), **dict(zip(("style", "content"), metric(img), strict=True))}
                        for it, el, img, sz in records if img is not None]
    return out


def run_pair(eng: Engine, job: dict[str, Any], content: Tensor, style: Tensor) -> dict[str, Any]:
    """Engine (single scale) and floor iterations alternating in one process: after each engine
    iteration (a snapshot per iteration) one floor step runs, and its time is taken out of the
    engine's clock. A shared CPU's speed drifts by 10 % and more within a minute; interleaving puts
    both sides of the ratio under the same drift. No memory figures here (see the "memory" kind)."""
    n, size = job["iterations"], job["size"]
    params = StyleParams(**{"size": size, "seed": 0, **job["params"], "iterations": n + 1, "snapshot_every": 1, "multiscale": False})
    step = floor_step(eng, size, job["layer"], mode=arithmetic.resolve(params.precision, eng.auto))  # the engine's own arithmetic
    step()  # warm-up
    engine_times: list[float] = []
    floor_times: list[float] = []
    overhead, last = 0.0, None
    for snap in eng.run(eng.job(content, [style], params)):
        c0 = time.perf_counter()
        elapsed = snap.elapsed_s - overhead
        if last is not None:  # iteration 1 (target setup, first pass) is the engine's warm-up
            engine_times.append(elapsed - last)
        last = elapsed
        if not snap.final:
            t0 = time.perf_counter()
            step()
            floor_times.append(time.perf_counter() - t0)
        overhead += time.perf_counter() - c0
    return {"engine": {**per_iteration(engine_times), "iterations": len(engine_times), "seconds": sum(engine_times)},
            "floor": {**per_iteration(floor_times), "iterations": len(floor_times), "seconds": sum(floor_times)}}


def run_memory(eng: Engine, job: dict[str, Any], content: Tensor, style: Tensor) -> dict[str, Any]:
    """Peak memory of a few floor steps or engine iterations, alone in a fresh process."""
    if job["of"] == "floor":
        return run_floor(eng, {"size": job["size"], "layer": job["layer"], "iterations": 1})
    return run_engine(eng, {"size": job["size"], "params": {"iterations": 2, "snapshot_every": 0, "multiscale": False}},
                      content, style)


def run_baseline(eng: Engine, job: dict[str, Any], content: Tensor, style: Tensor) -> dict[str, Any]:
    device = eng.device
    now = clock(device)
    cnn = baseline.vgg19_features({k: v.to(device) for k, v in weights_state().items()}).to(device)
    # The tutorial square-resizes both images to imsize x imsize.
    size = (job["size"], job["size"])
    content_img, style_img = images.resize(content, size), images.resize(style, size)
    input_img = content_img.clone()
    stamps: list[float] = []
    mem = PeakMemory(device)
    mem.start()
    t0 = now()
    result = baseline.run_style_transfer(cnn, content_img, style_img, input_img, num_steps=job["steps"], eval_times=stamps)
    seconds = now() - t0
    peak = mem.peak_mb()
    metric = Metric(eng.convs, content, style, size)
    s, c = metric(result.detach())
    return {"seconds": seconds, "iterations": len(stamps), "s_per_it": (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1),
            "peak_mb": peak, "memory": mem.method, "style": s, "content": c,
            "trace": [{"iteration": len(stamps), "elapsed_s": seconds, "style": s, "content": c}]}


_STATE: dict[str, Tensor] = {}
_INFO: list[weights.WeightsInfo] = []


def weights_state() -> dict[str, Tensor]:
    return _STATE


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    if job.get("keep_freed_memory") is False:
        cpu.keep_allocator_defaults()  # before the first Engine (an experiment)
    network = job.get("network")  # a job may name its network (precision section: VGG16 beside VGG19)
    if not _STATE or (network and _INFO[0].network != network):
        # seeded random init either way: the file is the same VGG19 init, exported once by the parent
        state, info = weights.obtain("random", network=network) if network else weights.load(job["weights"])
        _STATE.clear()
        _STATE.update(state)
        _INFO[:] = [info]
    eng = Engine(_STATE, _INFO[0], job["device"])
    if job.get("channels_last") is not None:
        set_channels_last(eng, bool(job["channels_last"]))
    content = images.to_tensor(scenes.content_image(job["size"])).to(eng.device).contiguous()
    style = images.to_tensor(scenes.style_image(job["size"])).to(eng.device).contiguous()
    kind = job["kind"]
    if kind == "floor":
        result = run_floor(eng, job)
    elif kind == "engine":
        if job.get("warmup"):  # a served model is warm: pay one-time costs outside the timing
            run_engine(eng, {**job, "quality": False, "params": {**job["params"], "iterations": 2}}, content, style)
        result = run_engine(eng, job, content, style)
    elif kind == "pair":
        result = run_pair(eng, job, content, style)
    elif kind == "memory":
        result = run_memory(eng, job, content, style)
    elif kind == "baseline":
        result = run_baseline(eng, job, content, style)
    elif kind == "precision":
        result = precision.run_interleaved(eng, job, content, style)
    else:
        raise ValueError(f"unknown job kind {kind!r}")
    return {**result, "threads": torch.get_num_threads(), "channels_last": eng.convs[0].weight.is_contiguous(memory_format=torch.channels_last)}


def main(argv: list[str]) -> int:
    for job in json.loads(argv[0]):
        result = run_job(job)
        print("RESULT " + json.dumps({"id": job["id"], **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
