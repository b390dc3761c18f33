"""A tiled job's peak memory, measured in a subprocess (seeded random-init VGG19, tiny tiles, CPU): under its
estimate, and growing with the output's size only by image-sized buffers, not by the network's activations."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from serving import memory

ROOT = Path(__file__).resolve().parents[1]

MEASURE = textwrap.dedent("""
    import sys
    from PIL import Image
    from serving import memory
    from stylize import Engine, StyleParams, tiles, weights
    state, info = weights.obtain("random", seed=0)
    tiling = tiles.TileSettings(threshold_pixels=128 * 128, tile=128, overlap=16, margin=16, steps=1, style_side=128)
    engine = Engine(state, info, "cpu", tiling=tiling)
    del state
    def status(key):
        return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
    style = Image.effect_noise((128, 128), 60).convert("RGB")
    # shallow layers: the network is cut after relu2_1, so the run is quick; the bound is the same bookkeeping
    shallow = {"content_layers": ("relu2_1",), "style_loss": "gram", "style_layers": ("relu1_1", "relu2_1")}
    warm = StyleParams(size=200, iterations=1, snapshot_every=0, multiscale=False, **shallow)
    for _ in engine.run(engine.job(Image.new("RGB", (200, 150), (120, 80, 40)), [style], warm)):
        pass  # lazy initialisation (and one tiled stage) outside the measurement
    size = int(sys.argv[1])
    content = Image.effect_noise((size, size * 3 // 4), 40).convert("RGB")
    params = StyleParams(size=size, iterations=1, snapshot_every=0, multiscale=False, **shallow)
    base = status("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM)
    for snap in engine.run(engine.job(content, [style], params)):
        pass
    assert snap.final and snap.size == (size, size * 3 // 4)
    print(status("VmHWM:") - base, memory.estimate_bytes(params, content.size, [style.size], "fp32", tiling))
""")


def _measure(size: int) -> tuple[int, int]:
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(size)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    measured, estimate = map(int, proc.stdout.split()[-2:])
    return measured, estimate


def test_a_tiled_jobs_peak_stays_under_its_estimate_and_follows_its_tile() -> None:
    small, small_estimate = _measure(256)
    large, large_estimate = _measure(640)
    print(f"peak rise 256 px: {small / 2**20:.0f} MiB (estimate {small_estimate / 2**20:.0f}); 640 px: {large / 2**20:.0f} MiB "
          f"(estimate {large_estimate / 2**20:.0f})")
    assert 0 < small <= small_estimate and 0 < large <= large_estimate, (small, small_estimate, large, large_estimate)
    grown = (640 * 480 - 256 * 192)  # output pixels added
    # what relu1_1..relu2_1's activations alone would add untiled (64 + 64 + 128 / 4 + ... channels: ~1 KB a pixel)
    untiled_growth = grown * 1024
    # image-sized buffers: a dozen float RGB copies at most (picture, start, content, best, snapshot, final...), plus
    # the content layer's targets an assembled stage keeps over the whole stage (relu2_1: 128 channels at half
    # resolution, 128 bytes a pixel; the memory model counts them); 84.4 MB read on a loaded CI run against 87.5
    # for the copies alone
    assert large - small < grown * (12 * 12 + 128 * 4 // 4) + 48 * memory.MIB, (small, large)
    # half of untiled growth at most: the small run's peak may partly hide in memory the allocator held already,
    # which inflates the difference (68 MB against 252 MB untiled seen on a loaded run)
    assert large - small < untiled_growth / 2, (small, large, untiled_growth)
