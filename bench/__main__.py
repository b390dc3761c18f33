"""python -m bench: engine vs floor vs the PyTorch tutorial, side by side on one device.

    python -m bench                          # CPU here: ~5-10 minutes
    python -m bench --device cuda            # GPU machine (sizes 128/256/512, 50 iterations each)
    python -m bench --device cuda --sizes 512 --iterations 500 --sections floor   # the "512 px x 500 its <= 2 s" check
    python -m bench --sizes 128,256 --iterations 10 --compare-size 256 --steps 300
    python -m bench --quick                  # tiny sizes, seconds: a smoke test
    python -m bench --markdown bench/RESULTS.md
    python -m bench --serving http://127.0.0.1:8080/predictions/style_transfer --sections serving

Every job runs in a fresh worker process (``--no-isolate`` runs them all in one), with the same
seeded random-init VGG19 weights and the same images drawn in code (bench/scenes.py).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from stylize import StyleParams, plan, weights

from tools.torchserve import TorchServe

from . import mixed, networks, precision, quality, serving
from .report import Runner, fmt, per_it, table

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("floor", "compare", "threads", "serving", "mixed", "networks", "precision", "quality")
TUTORIAL_LAYERS = {"content_layers": ["conv2_2"], "style_layers": ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]}
# The tutorial's loss is Gram's, so the engine jobs it is compared with use Gram too (the losses are comparable).
GRAM = {"style_loss": "gram"}
TUTORIAL_DEEPEST = "conv3_1"
ENGINE_DEEPEST = "relu5_1"  # deepest of the engine's default layers (relu4_2, relu1_1..relu5_1)


def default_iterations(size: int, device: str) -> int:
    """Timed iterations per size (plus one warm-up): ~2 s per forward+backward at 512 px on this CPU."""
    if device.startswith("cuda"):
        return 50
    return 24 if size <= 128 else 16 if size <= 256 else 4


def auto_size(args: argparse.Namespace, floors: dict[str, Any], elapsed_s: float) -> int:
    """Size of the comparison, threads and serving sections when not given: 512 on CUDA; on CPU the
    largest of 256, 192, 128, 96 (else 64) px that fits in what is left of --budget-s, so a slower CPU
    gets smaller images, not a longer run.

    Their cost, fitted on two CPUs: ≈ 60 s (processes, TorchServe start) + (c x steps + 225) x the
    floor s/it at their size (c = 3.2 with multiscale stages, 2.8 at one stage), the floor s/it
    scaled by pixel count from the nearest size the floor section measured.
    """
    if args.device.startswith("cuda"):
        return 512
    measured = {s: floors[f"floor@{s}"]["s_per_it"] for s in (128, 256) if f"floor@{s}" in floors}
    if not measured:
        return 256

    def cost(size: int) -> float:
        ref = 128 if size <= 128 and 128 in measured else max(measured)
        return 60 + ((3.2 if size > 128 else 2.8) * args.steps + 225) * measured[ref] * (size / ref) ** 2

    return next((size for size in (256, 192, 128, 96) if elapsed_s + cost(size) <= args.budget_s), 64)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", default="128,256,512", help="sizes for the engine-vs-floor table")
    p.add_argument("--iterations", type=int, help="timed iterations per size (default: 20/10/5 on CPU for <=128/<=256/larger, 50 on CUDA)")
    p.add_argument("--compare-size", type=int, help="size of the tutorial comparison (default: see --budget-s)")
    p.add_argument("--steps", type=int, default=300, help="tutorial steps (closure evaluations) and engine iterations in the comparison")
    p.add_argument("--trace-every", type=int, default=10, help="quality trace: metric on every engine iteration up to 20, then every N")
    p.add_argument("--threads-size", type=int, help="size of the threads/channels_last table (default: see --budget-s)")
    p.add_argument("--budget-s", type=float, default=480,
                   help="seconds the whole run should take on CPU: sections without an explicit size run at 256 px if the "
                        "floor measured at 256 px says they fit, else at 128 px (512 on CUDA)")
    p.add_argument("--sections", default="floor,compare,threads,precision,quality", help=f"comma list of {', '.join(SECTIONS)}")
    p.add_argument("--serving", metavar="URL", help="TorchServe inference URL, e.g. http://127.0.0.1:8080/predictions/style_transfer")
    p.add_argument("--serve-store", metavar="DIR", help="start TorchServe (loopback, free ports) on the style_transfer.mar in DIR "
                                                      "for the serving section, and stop it after (make bench: model_store)")
    p.add_argument("--serving-size", type=int, help="size of the serving comparison (default: see --budget-s)")
    p.add_argument("--serving-iterations", type=int, default=30)
    p.add_argument("--mixed-gap-s", type=float, default=12.0, help="mixed section: seconds between the small jobs' arrivals")
    p.add_argument("--precision-sizes", default="256,384", help="sizes of the fp32-vs-bf16 table (bench/precision.py)")
    p.add_argument("--quality-size", type=int, default=256, help="quality section: output size (bench/quality.py)")
    p.add_argument("--quality-budget-s", type=float, default=30, help="quality section: seconds per method and pair (3 pairs)")
    p.add_argument("--quality-plot", default="bench/quality.png", help="quality section: the PNG plot of distance vs time")
    p.add_argument("--images", default=str(ROOT.parent / "shared" / "images"), help="quality section: the real photos and paintings")
    p.add_argument("--threads", type=int, help="torch threads in every job (default: torch's default, the core count); the threads table sets its own")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2-6 iterations, 1 thread, one worker process: a smoke test")
    p.add_argument("--no-isolate", action="store_true", help="run all jobs in one worker process (memory figures then undercount)")
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown to PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.iterations, args.compare_size, args.steps = "32,48", 2, 48, 6
        args.trace_every, args.threads_size, args.no_isolate = 2, 48, True
        args.serving_size, args.serving_iterations = 48, 3
        args.threads = args.threads or 1  # tiny ops on a shared CPU: a second thread mostly waits at barriers
        args.precision_sizes = "32,48"
        args.quality_size, args.quality_budget_s = 48, 2.0
        if args.sections == "floor,compare,threads,precision,quality":
            args.sections = "floor,compare,precision"
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if (args.serving or args.serve_store) and "serving" not in args.sections:
        args.sections.append("serving")
    if args.serve_store and "mixed" not in args.sections and not args.quick:
        args.sections.append("mixed")
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    if "serving" in args.sections and not (args.serving or args.serve_store):
        p.error("the serving section needs --serving URL or --serve-store DIR")
    if args.device.startswith("cuda") and "threads" in args.sections:
        args.sections.remove("threads")  # CPU thread counts and memory format mean nothing on a GPU
    args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    return args


# -- sections ------------------------------------------------------------------------------------

def floor_section(args: argparse.Namespace, runner: Runner) -> tuple[str, dict[str, Any], list[str]]:
    """Engine single-scale s/iteration against the bare forward+backward to relu5_1; also its results
    (other sections' floors) and targets."""
    targets: list[str] = []
    jobs = []
    for size in args.size_list:
        n = args.iterations or default_iterations(size, args.device)
        if args.device.startswith("cuda"):
            # A snapshot per iteration would add a device sync and an image copy to every GPU iteration:
            # time the whole job after a warm-up run instead (includes the target setup, once).
            jobs.append({"id": f"engine@{size}", "kind": "engine", "size": size, "warmup": True,
                         "params": {"iterations": n, "snapshot_every": 0, "multiscale": False}})
            jobs.append({"id": f"floor@{size}", "kind": "floor", "layer": ENGINE_DEEPEST, "size": size, "iterations": n})
        else:  # iterations interleaved in one process (worker.run_pair); memory alone in fresh processes
            jobs.append({"id": f"pair@{size}", "kind": "pair", "layer": ENGINE_DEEPEST, "size": size, "iterations": n, "params": {}})
            jobs += [{"id": f"memory-{of}@{size}", "kind": "memory", "of": of, "layer": ENGINE_DEEPEST, "size": size}
                     for of in ("floor", "engine")]
    res = runner.run(jobs)
    for size in args.size_list:
        if f"pair@{size}" in res:
            pair = res.pop(f"pair@{size}")
            res[f"engine@{size}"] = {**pair["engine"], "peak_mb": res.pop(f"memory-engine@{size}")["peak_mb"]}
            res[f"floor@{size}"] = {**pair["floor"], "peak_mb": res.pop(f"memory-floor@{size}")["peak_mb"]}
    rows = []
    for size in args.size_list:
        e, f = res[f"engine@{size}"], res[f"floor@{size}"]
        rows.append([f"{size}x{size}", str(f["iterations"]), per_it(e), per_it(f), fmt(e["s_per_it"] / f["s_per_it"]),
                     fmt(e["peak_mb"]), fmt(f["peak_mb"])])
        if size == 256:
            ratio = e["s_per_it"] / f["s_per_it"]
            targets.append(f"engine s/it ≤ 1.10 × floor at 256 px ({args.device}): {ratio:.3f} → {'MET' if ratio <= 1.10 else 'MISSED'}")
    how = ("engine iterations and floor steps alternating in one process; peak MB from short separate runs" if not args.device.startswith("cuda")
           else "engine timed as a whole warm job, floor per iteration")
    text = (f"### Engine vs floor (single scale, default layers; floor = forward+backward of VGG19 to relu5_1; {how})\n\n"
            + table(["size", "timed iterations", "engine s/it", "floor s/it", "ratio", "engine peak MB", "floor peak MB"], rows))
    return text, res, targets


def compare_section(args: argparse.Namespace, runner: Runner, floors: dict[str, Any]) -> tuple[str, list[str]]:
    """The PyTorch tutorial vs the engine (defaults, single scale, tutorial settings) vs the floor."""
    targets: list[str] = []
    size, steps, every = args.compare_size, args.steps, args.trace_every
    snap = every if args.device.startswith("cuda") else 1  # per-iteration snapshots sync a GPU; on CPU they are free
    n_floor = args.iterations or default_iterations(size, args.device)
    # The engine-defaults job's stages (the engine's own plan of a square image): the floor of each stage's size.
    schedule = [(max(stage.size), stage.iterations) for stage in plan(StyleParams(size=size, iterations=steps, **GRAM), (size, size))]
    jobs: list[dict[str, Any]] = [
        {"id": "baseline", "kind": "baseline", "size": size, "steps": steps},
        {"id": "baseline-floor", "kind": "floor", "layout": "plain", "layer": "conv_5", "size": size, "iterations": n_floor},
        {"id": "engine-defaults", "kind": "engine", "size": size, "quality": True, "trace_every": every,
         "params": {"iterations": steps, "snapshot_every": snap, **GRAM}},
        {"id": "engine-tutorial", "kind": "engine", "size": size, "quality": True, "trace_every": every,
         "params": {"iterations": steps, "snapshot_every": snap, "multiscale": False, "tv_weight": 0.0, **GRAM, **TUTORIAL_LAYERS}},
        {"id": "tutorial-layers-floor", "kind": "floor", "layer": TUTORIAL_DEEPEST, "size": size, "iterations": n_floor},
    ]
    single_stage = len(schedule) == 1  # at <= 128 px multiscale has one stage: "multiscale off" is the same job
    if not single_stage:
        jobs.append({"id": "engine-single", "kind": "engine", "size": size, "quality": True, "trace_every": every,
                     "params": {"iterations": steps, "snapshot_every": snap, "multiscale": False, **GRAM}})
    for stage_size, _ in schedule:
        if f"floor@{stage_size}" not in floors:
            jobs.append({"id": f"floor@{stage_size}", "kind": "floor", "layer": ENGINE_DEEPEST, "size": stage_size,
                         "iterations": args.iterations or default_iterations(stage_size, args.device)})
    res = {**floors, **runner.run(jobs)}
    base = res["baseline"]
    b_time, b_style, b_content = base["seconds"], base["style"], base["content"]
    floor_main = res[f"floor@{size}"]["s_per_it"]
    schedule_floor = sum(n * res[f"floor@{s}"]["s_per_it"] for s, n in schedule)

    def quality(r: dict[str, Any]) -> tuple[str, str, str]:
        trace = r["trace"]
        within = [t for t in trace if t["elapsed_s"] <= b_time]
        at_time = f"{fmt(within[-1]['style'])} / {fmt(within[-1]['content'])} (it {within[-1]['iteration']})" if within else "none yet"
        reached = next((t for t in trace if t["style"] <= b_style and t["content"] <= b_content), None)
        to_reach = (f"{reached['elapsed_s']:.1f} s = {reached['elapsed_s'] / b_time:.2f}x (it {reached['iteration']})"
                    if reached else "not reached")
        final = trace[-1]
        return f"{fmt(final['style'])} / {fmt(final['content'])}", at_time, to_reach

    reached = next((t for t in res["engine-defaults"]["trace"] if t["style"] <= b_style and t["content"] <= b_content), None)
    targets.append("engine (defaults) reaches the tutorial's final losses in ≤ 0.5 × its time: "
                   + (f"{reached['elapsed_s'] / b_time:.2f} × → {'MET' if reached['elapsed_s'] <= 0.5 * b_time else 'MISSED'}"
                      if reached else "not reached → MISSED"))
    if single_stage:
        res["engine-single"] = res["engine-defaults"]
    ms, ss = res["engine-defaults"]["trace"][-1], res["engine-single"]["trace"][-1]
    if not single_stage:
        targets.append(f"multiscale default vs single scale, same {steps} iterations: final style {fmt(ms['style'])} vs {fmt(ss['style'])}, "
                   f"content {fmt(ms['content'])} vs {fmt(ss['content'])}, {fmt(res['engine-defaults']['seconds'])} s vs "
                   f"{fmt(res['engine-single']['seconds'])} s")
    rows = []
    b_floor = res["baseline-floor"]["s_per_it"]
    rows.append(["tutorial baseline (L-BFGS max_iter 20, conv layers to conv3_1)", f"{size} (square)", str(base["iterations"]),
                 fmt(b_time), fmt(b_time / base["iterations"]), f"{fmt(b_floor)} (conv3_1, plain)", fmt(b_time / base["iterations"] / b_floor), fmt(base["peak_mb"]),
                 f"{fmt(b_style)} / {fmt(b_content)}", "–", f"{b_time:.1f} s = 1.00x"])
    for key, label, floor_s, floor_label in (
        ("engine-defaults", "engine defaults (multiscale " + "→".join(str(s) for s, _ in schedule) + ")", schedule_floor / steps,
         f"{fmt(schedule_floor / steps)} (relu5_1, schedule mean)"),
        ("engine-single", "engine defaults, multiscale off" + (" (= defaults: one stage at this size)" if single_stage else ""),
         floor_main, f"{fmt(floor_main)} (relu5_1)"),
        ("engine-tutorial", "engine, tutorial settings (single scale, conv2_2 / conv1_1..conv3_1, tv 0)",
         res["tutorial-layers-floor"]["s_per_it"], f"{fmt(res['tutorial-layers-floor']['s_per_it'])} (conv3_1)"),
    ):
        r = res[key]
        final, at_time, to_reach = quality(r)
        per_it = r["seconds"] / r["iterations"]
        rows.append([label, str(size), str(r["iterations"]), fmt(r["seconds"]), fmt(per_it), floor_label, fmt(per_it / floor_s),
                     fmt(r["peak_mb"]), final, at_time, to_reach])
    rows.append([f"floor: forward+backward to relu5_1 × {steps}", str(size), str(steps), fmt(floor_main * steps), fmt(floor_main), "–", "1",
                 fmt(res[f"floor@{size}"]["peak_mb"]), "–", "–", "–"])
    rows.append([f"floor: forward+backward to conv3_1 × {base['iterations']} (tutorial's net)", str(size), str(base["iterations"]),
                 fmt(b_floor * base["iterations"]), fmt(b_floor), "–", "1", fmt(res["baseline-floor"]["peak_mb"]), "–", "–", "–"])
    copies = max(res[k].get("copies_mb", 0.0) for k in ("engine-defaults", "engine-single", "engine-tutorial"))
    headers = ["run", "size", "iterations", "seconds", "s/it (whole job)", "floor s/it", "ratio", "peak MB",
               "final style / content metric", f"metric at baseline's {b_time:.1f} s", "time to baseline's losses"]
    note = (f"Quality metric (bench/metric.py): style = Σ over relu1_1..relu5_1 of mean((G−G_style)²), G = FFᵀ/(HW); "
            f"content = mean((F−F_content)²) at relu4_2; same random-init VGG19, images resized to {size}x{size}; lower is better. "
            f"Engine traces: metric on snapshots of iterations 1-20, then every {every}; copy and metric time excluded from elapsed. "
            "s/it (whole job) = seconds / iterations, setup (targets) and L-BFGS history work included; "
            "the tutorial's iterations are its closure evaluations (L-BFGS steps of up to 20 evaluations each, as its 300 'steps' count). "
            f"Engine rows' peak MB include up to {copies:.1f} MB of snapshot copies the benchmark keeps for the metric.")
    return ("### Tutorial vs engine vs floor (same device, weights, images)\n\n" + table(headers, rows) + "\n\n" + note), targets


def threads_section(args: argparse.Namespace, runner: Runner) -> tuple[str, list[str]]:
    """Torch threads x memory format, and the glibc setting of stylize.cpu, each an interleaved pair."""
    size = args.threads_size
    n = args.iterations or default_iterations(size, args.device) // 3
    combos = [(t, cl, True) for t in (1, 2) for cl in (False, True)] + [(2, True, False)]
    jobs = [{"id": f"pair-t{t}-cl{int(cl)}-k{int(keep)}", "kind": "pair", "layer": ENGINE_DEEPEST, "size": size, "iterations": n,
             "threads": t, "channels_last": cl, "keep_freed_memory": keep, "params": {}} for t, cl, keep in combos]
    res = runner.run(jobs)
    rows = []
    for (t, cl, keep), job in zip(combos, jobs, strict=True):
        f, e = res[job["id"]]["floor"], res[job["id"]]["engine"]
        rows.append([str(t), "on" if cl else "off", "on" if keep else "off (glibc default)", per_it(f), per_it(e),
                     fmt(e["s_per_it"] / f["s_per_it"])])
    return (f"### CPU threads, memory format, freed-memory reuse ({size}x{size}, {n} interleaved iterations, single scale)\n\n"
            + table(["torch threads", "channels_last", "keep freed memory (stylize.cpu)", "floor s/it", "engine s/it", "ratio"], rows)), []


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu}, {os.cpu_count()} logical cores, torch {torch.__version__}, Python {platform.python_version()}"


def load() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1/5/15 min)"
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device_name = args.device
    if args.device.startswith("cuda"):
        device_name += f" ({torch.cuda.get_device_name(torch.device(args.device))})"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "vgg19_random.safetensors")
        info = weights.export(path, mode="random", seed=0)
        runner = Runner(args.device, path, isolate=not args.no_isolate, threads=args.threads)
        parts = [f"## Benchmark — {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
                 f"Machine: {machine()}. Device: {device_name}. Torch threads: {args.threads or f'{torch.get_num_threads()} (default)'}. "
                 f"Load average at start: {load()} (the CPU is shared: other processes inflate CPU timings).",
                 f"**Weights: {info.provenance} (seeded random-init VGG19, seed 0; no ImageNet weights available) — "
                 "timings are representative, quality figures only compare methods on the same random network.**",
                 "Peak memory: " + ("torch.cuda.max_memory_allocated above the job's starting allocation."
                                    if args.device.startswith("cuda") else
                                    "rise of the process's peak RSS (VmHWM reset before the job) over the RSS before it, one fresh process per job"
                                    + (" (here: all jobs in ONE process, so later jobs undercount)." if args.no_isolate else ".")),
                 "Per-iteration figures are medians over the timed iterations (robust to other processes on a shared CPU; "
                 "means in parentheses where they differ by > 5 %) and exclude one warm-up iteration, unless marked 'whole job'."]
        print("\n\n".join(parts) + "\n", flush=True)
        floors: dict[str, Any] = {}
        all_targets: list[str] = []  # met/missed lines, as each section returns them
        for section in args.sections:
            if section != "floor" and None in (args.compare_size, args.threads_size, args.serving_size):
                size = auto_size(args, floors, time.perf_counter() - started)
                auto = [name for name in ("compare", "threads", "serving") if getattr(args, f"{name}_size") is None and name in args.sections]
                args.compare_size, args.threads_size, args.serving_size = (
                    args.compare_size or size, args.threads_size or size, args.serving_size or size)
                if auto:
                    parts.append(f"Sections {', '.join(auto)} run at {size} px, the size that fits `--budget-s {args.budget_s:g}` "
                                 "(bench/__main__.py auto_size).")
            print(f"[{section}]", file=sys.stderr, flush=True)
            if section == "floor":
                text, floors, targets = floor_section(args, runner)
            elif section == "compare":
                text, targets = compare_section(args, runner, floors)
            elif section == "threads":
                text, targets = threads_section(args, runner)
            elif section == "networks":  # bench/networks.py: VGG16 vs VGG19, each vs its own floor (no targets)
                text, targets = networks.section(args.device, [int(v) for v in args.sizes.split(",")], args.iterations or 8), []
            elif section == "precision":  # bench/precision.py: fp32/bf16 floors and engine, interleaved
                text, targets = precision.section(runner, [int(s) for s in args.precision_sizes.split(",")], args.iterations, ENGINE_DEEPEST, table)
            elif section == "quality":  # bench/quality.py: each style method's distances vs wall time (ImageNet features)
                text, targets = quality.section(Path(args.images), args.quality_size, args.quality_budget_s,
                                                Path(args.quality_plot) if args.quality_plot else None, args.device)
            elif section == "mixed":
                # Builds its own two archives (batchSize 1 and 8) with the same random-init weights.
                text, targets = mixed.section(Path(path), **({"big": (64, 40), "small": (32, 4), "n_small": 3, "gap_s": 0.5} if args.quick else {"gap_s": args.mixed_gap_s}))
            elif args.serving:
                text, targets = serving.section(args.serving, runner, args.serving_size, args.serving_iterations)
            else:
                # Started only now, so its idle JVM and worker don't share the CPU with the sections before.
                with TorchServe(Path(args.serve_store), Path(tmp) / "torchserve") as server:
                    text, targets = serving.section(server.model_url, runner, args.serving_size, args.serving_iterations)
            parts.append(text)
            all_targets.extend(targets)
            print("\n" + text + "\n", flush=True)
    if all_targets:
        parts.append("### Targets\n\n" + "\n".join(f"- {t}" for t in all_targets))
        print(parts[-1] + "\n")
    parts.append(f"Load average at end: {load()}. Total benchmark wall time: {time.perf_counter() - started:.0f} s. Command: `python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}`")
    print(parts[-1])
    if args.markdown:
        Path(args.markdown).write_text("\n\n".join(parts) + "\n")
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
