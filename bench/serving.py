"""TorchServe end-to-end vs a direct engine call for the same job (target: served <= 1.05 x direct).

Needs a running TorchServe (this module never starts one); the URL is the inference endpoint,
e.g. http://127.0.0.1:8080/predictions/style_transfer. Run it on the machine that serves, so both
sides use the same hardware.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
from stylize import images

from . import scenes

if TYPE_CHECKING:  # avoid an import cycle at run time
    from .__main__ import Runner


def job_fields(size: int, iterations: int, seed: int = 0, multiscale: bool = True) -> dict[str, str]:
    return {"size": str(size), "iterations": str(iterations), "multiscale": str(multiscale).lower(), "seed": str(seed), "response": "json"}


def post_job(url: str, size: int, iterations: int, timeout: float = 900.0) -> tuple[float, dict[str, Any]]:
    """POST one multipart job; returns (wall seconds, decoded JSON body)."""
    files = {"content": ("content.png", images.encode(scenes.content_image(size), "png"), "image/png"),
             "style": ("style.png", images.encode(scenes.style_image(size), "png"), "image/png")}
    started = time.perf_counter()
    response = httpx.post(url, files=files, data=job_fields(size, iterations), timeout=timeout)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds, response.json()


def section(url: str, runner: Runner, size: int, iterations: int, repeats: int = 2) -> str:
    from .__main__ import fmt, table  # late: __main__ imports this module

    post_job(url, size, 2)  # warm-up: first request may pay lazy initialisation in the worker
    served = []
    body: dict[str, Any] = {}
    for _ in range(repeats):
        seconds, body = post_job(url, size, iterations)
        served.append(seconds)
    direct = runner.run([{"id": f"direct-{i}", "kind": "engine", "size": size, "warmup": True,
                          "params": {"iterations": iterations, "multiscale": True}} for i in range(repeats)])
    direct_s = min(r["seconds"] for r in direct.values())
    served_s = min(served)
    rows = [["direct Engine.run (worker process, warm)", fmt(direct_s), "1", "–"],
            ["TorchServe POST (multipart, response=json)", fmt(served_s), fmt(served_s / direct_s),
             f"engine elapsed_s {fmt(body.get('elapsed_s'))}, weights {body.get('weights', '?')}"]]
    return (f"### TorchServe end-to-end vs direct engine call ({size} px, {iterations} iterations, multiscale, seed 0; best of {repeats})\n\n"
            + table(["path", "seconds", "ratio", "notes"], rows) + f"\n\nURL: {url}\n\n"
            + f"Target TorchServe ≤ 1.05 × direct: {served_s / direct_s:.3f} → {'MET' if served_s <= 1.05 * direct_s else 'MISSED'}")
