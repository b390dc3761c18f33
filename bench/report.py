"""What every bench section shares: the worker-process Runner and the table/number formatting.

A module of its own so that bench/__main__.py imports the sections and the sections import this,
never each other (no import cycle).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Runner:
    """Sends job dicts to worker processes and collects their results."""

    def __init__(self, device: str, weights_path: str, isolate: bool, threads: int | None = None) -> None:
        self.device, self.weights_path, self.isolate, self.threads = device, weights_path, isolate, threads

    def run(self, jobs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        jobs = [{"device": self.device, "weights": self.weights_path, "threads": self.threads, **job} for job in jobs]
        batches = [[job] for job in jobs] if self.isolate else [jobs]
        results: dict[str, dict[str, Any]] = {}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "handler"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
        for batch in batches:
            label = ", ".join(job["id"] for job in batch)
            print(f"  running {label} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "bench.worker", json.dumps(batch)], cwd=ROOT, env=env,
                                  capture_output=True, text=True, check=False, timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"worker failed on {label}:\n{proc.stderr[-4000:]}")
            for line in proc.stdout.splitlines():
                if line.startswith("RESULT "):
                    result = json.loads(line.removeprefix("RESULT "))
                    results[result.pop("id")] = result
            print(f"  ... {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        return results


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 10 ** -(digits - 1):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.0f}"


def per_it(r: dict[str, Any]) -> str:
    """Median s/it, with the mean when contention made them differ."""
    median, mean = r["s_per_it"], r.get("mean_s_per_it", r["s_per_it"])
    return fmt(median) if abs(mean - median) <= 0.05 * median else f"{fmt(median)} ({fmt(mean)})"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, sep, *body])
