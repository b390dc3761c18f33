"""Mixed load on one worker: one big job and small jobs arriving while it runs, served serially
(``batchSize: 1``: each job holds the worker to its end) and with continuous batching (every
running job advanced a slice per call), side by side on the same machine in one run.

Targets: small-job p95 <= 2 x solo latency + 2 s; total throughput within 5 % of serial;
cancel-to-free <= 2 s.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import yaml
from stylize import images

from tools import archive
from tools.torchserve import ROOT, TorchServe

from . import scenes
from .report import fmt, table


def _files(size: int) -> dict[str, tuple[str, bytes, str]]:
    return {"content": ("content.png", images.encode(scenes.content_image(size), "png"), "image/png"),
            "style": ("style.png", images.encode(scenes.style_image(size), "png"), "image/png")}


def _job(url: str, size: int, iterations: int) -> float:
    started = time.perf_counter()
    r = httpx.post(url, files=_files(size), data={"size": str(size), "iterations": str(iterations)}, timeout=1800)
    r.raise_for_status()
    return time.perf_counter() - started


def _store(tmp: Path, name: str, weights_file: Path, batch_size: int) -> Path:
    config = yaml.safe_load(archive.MODEL_CONFIG.read_text())
    config["batchSize"] = batch_size
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    store = tmp / name
    archive.build(store, model_config=path, weights_file=weights_file)
    return store


def _mixed(url: str, big: tuple[int, int], small: tuple[int, int], n_small: int, gap_s: float) -> dict[str, Any]:
    """The big job first; small jobs then arrive every ``gap_s`` seconds while it runs."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one_small() -> None:
        seconds = _job(url, *small)
        with lock:
            latencies.append(seconds)

    started = time.perf_counter()
    big_thread = threading.Thread(target=lambda: latencies_big.append(_job(url, *big)))
    latencies_big: list[float] = []
    big_thread.start()
    time.sleep(gap_s)
    threads = []
    for _ in range(n_small):
        thread = threading.Thread(target=one_small)
        thread.start()
        threads.append(thread)
        time.sleep(gap_s)
    for thread in [*threads, big_thread]:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"small_p50_s": median(ordered), "small_p95_s": ordered[max(0, round(0.95 * len(ordered)) - 1)],
            "big_s": latencies_big[0], "wall_s": wall, "jobs_per_min": (n_small + 1) / wall * 60}


def _cancel_to_free(server: TorchServe, size: int) -> float:
    """Stream a long job, leave after its first snapshot, time until the worker logs the drop."""
    log = server.log_dir / "model_log.log"
    before = len(re.findall("dropped job", log.read_text(errors="replace"))) if log.exists() else 0
    data = {"size": str(size), "iterations": "2000", "snapshot_every": "2", "multiscale": "false", "response": "stream"}
    with httpx.stream("POST", server.model_url, files=_files(size), data=data, timeout=600) as r:
        for line in r.iter_lines():
            if line.strip() and json.loads(line)["event"] == "snapshot":
                break
    left = time.perf_counter()
    while time.perf_counter() - left < 60:
        if len(re.findall("dropped job", log.read_text(errors="replace"))) > before:
            return time.perf_counter() - left
        time.sleep(0.02)
    return float("inf")


def section(weights_file: Path, big: tuple[int, int] = (256, 300), small: tuple[int, int] = (96, 40),
            n_small: int = 8, gap_s: float = 12.0) -> tuple[str, list[str]]:
    """``gap_s`` 12: the small jobs together ask for less than the CPU has left (a 96 px x 40 job takes ~5 s
    alone on 2 cores); arriving faster than that, any fair schedule makes them wait for each other."""

    rows, results = [], {}
    with tempfile.TemporaryDirectory(dir=ROOT / "model_store" if (ROOT / "model_store").is_dir() else None) as tmp_dir:
        tmp = Path(tmp_dir)
        stores = {"serial (batchSize 1)": _store(tmp, "serial", weights_file, 1),
                  "continuous batching (batchSize 8)": _store(tmp, "batched", weights_file, 8)}
        for label, store in stores.items():
            with TorchServe(store, tmp / f"ts-{store.name}") as server:
                _job(server.model_url, *small)  # warm-up
                solo = median([_job(server.model_url, *small) for _ in range(3)])
                result = _mixed(server.model_url, big, small, n_small, gap_s)
                result["solo_s"] = solo
                result["cancel_s"] = _cancel_to_free(server, 128) if "continuous" in label else None
                results[label] = result
                rows.append([label, fmt(solo), fmt(result["small_p50_s"]), fmt(result["small_p95_s"]), fmt(result["big_s"]),
                             fmt(result["wall_s"]), fmt(result["jobs_per_min"]),
                             fmt(result["cancel_s"]) if result["cancel_s"] is not None else "– (runs to its end)"])
    serial, batched = results["serial (batchSize 1)"], results["continuous batching (batchSize 8)"]
    p95_goal = 2 * batched["solo_s"] + 2
    ratio = batched["jobs_per_min"] / serial["jobs_per_min"]
    targets = [
        f"small-job p95 with continuous batching ≤ 2 × solo + 2 s: {batched['small_p95_s']:.2f} s vs {p95_goal:.2f} s → "
        f"{'MET' if batched['small_p95_s'] <= p95_goal else 'MISSED'} (serial: {serial['small_p95_s']:.2f} s)",
        f"throughput within 5 % of serial: {ratio:.3f} × serial → {'MET' if ratio >= 0.95 else 'MISSED'}",
        f"cancel-to-free ≤ 2 s: {batched['cancel_s']:.2f} s → {'MET' if batched['cancel_s'] <= 2 else 'MISSED'}",
    ]
    text = (f"### Mixed load on one worker: 1 job of {big[0]} px × {big[1]} iterations, then {n_small} jobs of {small[0]} px × "
            f"{small[1]} arriving every {gap_s:g} s while it runs (png, multiscale defaults)\n\n"
            + table(["serving", "small solo s", "small p50 s", "small p95 s", "big job s", "wall s", "jobs/min", "cancel → freed s"], rows))
    return text, targets
