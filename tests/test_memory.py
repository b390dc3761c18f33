"""The memory model that admits jobs: estimates, budgets, and one measured run against its estimate."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from serving import memory
from stylize import StyleParams

from tools.torchserve import ROOT

CONTENT, STYLES = (640, 480), [(512, 512)]


def est(**kw: object) -> int:
    return memory.estimate_bytes(StyleParams(**kw), CONTENT, STYLES)  # type: ignore[arg-type]


def test_estimate_grows_with_size_and_lbfgs_costs_more_than_adam() -> None:
    sizes = [64, 128, 256, 512, 1024]
    values = [est(size=s) for s in sizes]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert est(size=512, optimizer="lbfgs") > est(size=512, optimizer="adam") + 100 * memory.MIB
    # 1024 px with L-BFGS: the history alone is 100 pairs of 768x1024x3 floats (~1.8 GiB)
    assert 3 * 2**30 < est(size=1024) < 8 * 2**30


def test_w2_and_averaging_are_counted() -> None:
    # W2: 8 matrices of 512² floats at relu4_1 and relu5_1 alone (16 MiB), per style when regions may split them
    assert est(size=256, style_loss="w2") - est(size=256, style_loss="gram") > 16 * memory.MIB
    assert memory.estimate_bytes(StyleParams(style_loss="w2"), CONTENT, STYLES * 3) > memory.estimate_bytes(
        StyleParams(style_loss="w2"), CONTENT, STYLES) + 2 * 16 * memory.MIB
    assert est(size=256, average="ema") - est(size=256) == 2 * 3 * 256 * 192 * 4


def test_estimate_counts_the_decoded_inputs() -> None:
    small = memory.estimate_bytes(StyleParams(size=128), (640, 480), [(512, 512)])
    huge = memory.estimate_bytes(StyleParams(size=128), (6400, 4800), [(512, 512)])
    assert huge - small == (6400 * 4800 - 640 * 480) * 12


def test_budget_settings() -> None:
    gib = 2**30
    assert memory.budget_bytes("auto", 10 * gib, 1 * gib, 0.6) == 5 * gib
    assert memory.budget_bytes(None, 10 * gib, 1 * gib, 0.5) == 4 * gib
    assert memory.budget_bytes(2048, 10 * gib, 1 * gib, 0.6) == 2 * gib
    assert memory.budget_bytes("512", 10 * gib, 0, 0.6) == 512 * memory.MIB
    for bad in ("lots", -1, 0):
        with pytest.raises(ValueError, match="memory budget"):
            memory.budget_bytes(bad, gib, 0, 0.6)


def test_largest_size_within_is_the_boundary() -> None:
    params = StyleParams(size=1024)
    budget = est(size=700)
    most = memory.largest_size_within(budget, params, CONTENT, STYLES)
    assert est(size=most) <= budget < est(size=most + 1)
    assert memory.largest_size_within(1, params, CONTENT, STYLES) == 0


def test_host_memory_is_positive_and_at_most_physical() -> None:
    import os

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < memory.host_memory_bytes() <= physical


MEASURE = textwrap.dedent("""
    import ctypes, gc, json, sys
    from dataclasses import replace
    from PIL import Image
    from serving import memory
    from stylize import Engine, StyleParams, weights
    state, info = weights.obtain("random", seed=0)
    engine = Engine(state, info, "cpu")
    del state
    def status(key):
        return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
    content, style = Image.new("RGB", (96, 72), (120, 80, 40)), Image.effect_noise((96, 96), 60).convert("RGB")
    params = StyleParams(size=96, iterations=104, snapshot_every=0, multiscale=False, precision=sys.argv[1],
                         **json.loads(sys.argv[2]))
    # lazy initialisation (the kernels of this precision and method, their library pages) outside the measurement;
    # with the warm-up in another precision a full run once measured 95 MB against 75-79 MB alone (the likely
    # cause, not proven)
    for _ in engine.run(engine.job(content, [style], replace(params, size=32, iterations=2))):
        pass
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, so the run's own allocations raise the RSS
    base = status("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM)
    for _ in engine.run(engine.job(content, [style], params)):
        pass
    print(status("VmHWM:") - base, memory.estimate_bytes(params, content.size, [style.size]))
""")


@pytest.mark.parametrize(("precision", "method"), [("fp32", '{"style_loss": "gram"}'), ("bf16", '{"style_loss": "gram"}'),
                                                  ("fp32", '{"style_loss": "w2", "average": "ema"}'), ("bf16", "{}"),
                                                  ("fp32", '{"style_loss": "neighbour", "image_param": "pyramid"}')])
def test_a_measured_run_stays_within_its_estimate(precision: str, method: str) -> None:
    """96 px, 104 L-BFGS iterations (the history is full): the process's peak rise <= the estimate."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, precision, method], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    measured, estimate = map(int, proc.stdout.split()[-2:])
    assert 0 < measured <= estimate, (measured, estimate)
    # a small run's rise can hide in memory the allocator already holds (0.8 MB seen for a bf16 run), hence the
    # fixed allowance beside the factor
    assert estimate < 4 * measured + 128 * memory.MIB, "the estimate is so loose that admission wastes the budget"


def test_the_size_a_refusal_names_is_the_largest_that_fits_below_the_job_s_own() -> None:
    """With tiling the estimate does not grow with the size: a 3463 px job's plan has no untiled stage near the
    1 MP threshold, so it peaks lower than a 2048 px one (here, a 1024 px style, 6000 MiB: 3463 px fits, 1024 to
    2048 px do not). A bisection assumes a monotone estimate and may name a size that is refused; the scan names
    the largest size up to the job's own that fits, with the one above it refused."""
    import torch
    from stylize import tiles

    tiling = tiles.for_device(torch.device("cpu"))
    params = StyleParams(size=2048, iterations=25)
    budget = 6000 * memory.MIB
    most = memory.largest_size_within(budget, params, (1024, 768), [(1024, 1024)], "bf16", tiling)
    assert memory.estimate_bytes(params, (1024, 768), [(1024, 1024)], "bf16", tiling) > budget  # refused
    assert 0 < most < 2048
    assert memory.estimate_bytes(replace(params, size=most), (1024, 768), [(1024, 1024)], "bf16", tiling) <= budget
    assert memory.estimate_bytes(replace(params, size=most + 1), (1024, 768), [(1024, 1024)], "bf16", tiling) > budget
