"""The benchmark harness: tutorial baseline, common metric and a --quick smoke run (CPU, tiny sizes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from stylize import images, weights
from stylize.vgg import build_convs

from bench import baseline, scenes
from bench.metric import Metric

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return weights.obtain("random", seed=0)[0]


def square(img: Image.Image, size: int) -> torch.Tensor:
    # Contiguous like torchvision's ToTensor: L-BFGS views the image's gradient as a flat vector.
    return images.resize(images.to_tensor(img).contiguous(), (size, size))


def test_baseline_reduces_its_loss(state: dict[str, torch.Tensor]) -> None:
    cnn = baseline.vgg19_features(state)
    content, style = square(scenes.content_image(32), 32), square(scenes.style_image(32), 32)
    model, style_losses, content_losses = baseline.style_model_and_losses(cnn, content, style)
    assert [type(m).__name__ for m in model][-1] == "StyleLoss"  # truncated after the last loss (conv_5)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model) == 5

    def loss_of(img: torch.Tensor) -> float:
        with torch.no_grad():
            model(img)
            return float(sum(s.loss for s in style_losses) * 1e6 + sum(c.loss for c in content_losses))

    before = loss_of(content)
    stamps: list[float] = []
    result = baseline.run_style_transfer(cnn, content, style, content.clone(), num_steps=5, eval_times=stamps)
    assert len(stamps) >= 5  # evaluations are counted like the tutorial's run[0]
    assert float(result.detach().min()) >= 0.0 and float(result.detach().max()) <= 1.0
    assert loss_of(result.detach()) < 0.5 * before


def test_metric_zero_for_identical_positive_otherwise(state: dict[str, torch.Tensor]) -> None:
    convs = build_convs(state)
    content = images.to_tensor(scenes.content_image(48)).contiguous()
    style = images.to_tensor(scenes.style_image(48)).contiguous()
    metric = Metric(convs, content, style, (48, 48))
    s_content, c_content = metric(content)
    assert c_content == 0.0 and s_content > 0.0
    s_style, c_style = metric(style)
    assert s_style == pytest.approx(0.0, abs=1e-9) and c_style > 0.0
    noise_s, noise_c = metric(torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1)))
    assert noise_s > 0.0 and noise_c > 0.0


def test_quick_run_prints_tables(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "handler"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--markdown", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    for column in ("engine s/it", "floor s/it", "ratio", "engine peak MB", "final style / content metric", "time to baseline's losses"):
        assert column in text, column
    assert "random-init" in text
    rows = [line for line in text.splitlines() if line.startswith("| 48x48 ")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert float(cells[2].split()[0]) > 0 and float(cells[3].split()[0]) > 0  # engine and floor s/it (median, maybe "(mean)")
    assert "tutorial baseline" in text and "engine defaults" in text
    precision_rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith(("| engine, precision", "| fp32 floor", "| bf16 floor"))}
    assert len(precision_rows) == 6, precision_rows  # fp32/bf16 floor x channels_last/NCHW, engine fp32/bf16
    assert precision_rows["fp32 floor (channels_last)"].count("(1.00)") == 4  # the ratios' base: 2 networks x 2 sizes
    assert "| VGG19 32 px s/it (÷ fp32 floor)" in text and "| VGG16 48 px s/it (÷ fp32 floor)" in text
    for net in ("VGG19", "VGG16"):
        assert f"engine bf16 ÷ fp32 floor ≤ 0.6 ({net}, 48 px)" in text
    assert out.read_text().startswith("## Benchmark")


def test_quick_run_serves_through_a_real_torchserve(model_store: Path, tmp_path: Path) -> None:
    """What `make bench` does for the serving row: start TorchServe on the .mar, time it against the engine, stop it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "handler"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--sections", "serving", "--serve-store", str(model_store)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in proc.stdout.splitlines() if line.startswith("| ") and "path" not in line}
    served = rows["TorchServe POST (multipart, response=json), wall"]
    inside = rows["… of which the engine inside the TorchServe worker"]
    assert float(served[1]) > 0 and float(served[2]) > 0  # seconds, ratio to the direct call
    assert 0 < float(inside[1]) <= float(served[1])  # the handler's elapsed_s is part of the wall time
    assert "weights vgg16/imagenet-keras" in served[3]
    assert "TorchServe end-to-end ≤ 1.05 × direct (median of paired ratios)" in proc.stdout.split("### Targets")[1]


def test_serving_post_sends_the_job_as_multipart() -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench import serving

    seen: list[bytes] = []

    class Stub(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps({"elapsed_s": 0.5, "weights": "random-init"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        seconds, body = serving.post_job(f"http://127.0.0.1:{server.server_port}/predictions/style_transfer", 32, 3)
    finally:
        server.shutdown()
    assert seconds > 0 and body["weights"] == "random-init"
    sent = seen[0]
    for name in (b'name="content"', b'name="style"', b'name="size"', b'name="iterations"', b'name="multiscale"', b'name="seed"', b'name="response"'):
        assert name in sent
    assert b"\x89PNG" in sent and b"json" in sent


def test_networks_section_times_both_networks_against_their_floors() -> None:
    from bench import networks

    text = networks.section("cpu", [24], 1)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| 24 ")]
    assert [r[1] for r in rows] == ["vgg16", "vgg19"]
    assert all(float(r[2]) > 0 and float(r[3]) > 0 for r in rows) and float(rows[0][5]) > 0


def test_bench_sections_do_not_import_the_entry_point() -> None:
    """Sections share bench/report.py; importing bench/__main__.py from one would be a cycle again."""
    import ast

    for path in sorted((ROOT / "bench").glob("*.py")):
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"__main__", "bench.__main__"}, path.name
    main_source = (ROOT / "bench" / "__main__.py").read_text()
    assert "TARGETS" not in main_source, "each section returns its targets; no global list"


def test_quality_section_judges_every_method_on_real_features(tmp_path: Path) -> None:
    """Tiny (48 px, 2 s a method) but real: ImageNet VGG16 from the wheel, a table row pair and a plot per method."""
    from quality_metrics import SHARED_IMAGES

    from bench import quality
    from tools.gallery import METHODS

    plot = tmp_path / "quality.png"
    text, targets = quality.section(SHARED_IMAGES, 48, 2.0, plot)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    first = [r for r in rows if r[0] == "tubingen x starry_night"]
    assert [r[1] for r in first] == [name for name in METHODS for _ in range(2)]  # halfway and final
    assert len(rows) == len(first) + (len(quality.PAIRS) - 1) * len(METHODS)  # the other pairs: the results
    assert {r[0] for r in rows} == {f"{Path(c).stem} x {Path(s).stem}" for c, s in quality.PAIRS}
    # on a loaded machine the halfway snapshot may be the start (iteration 0, the content itself: distance 0)
    finals = first[1::2] + rows[len(first):]
    assert all(int(r[2]) >= 1 and float(r[4]) > 0 and float(r[5]) > 0 and float(r[6]) > 0 and float(r[7]) > 0
               and 0 <= float(r[8]) <= 1 for r in finals), text
    assert all(0 <= int(h[2]) <= int(f[2]) for h, f in zip(first[::2], first[1::2], strict=True)), text
    assert "ImageNet VGG16" in text and targets and "lowest noise" in targets[0] and "least copied" in targets[0]
    with Image.open(plot) as picture:
        assert picture.width > 800 and picture.height > 300
    flat = torch.full((1, 3, 16, 16), 0.5)
    assert quality.noise(flat) == 0 and quality.noise(torch.rand(1, 3, 16, 16)) > 10


def test_structure_distance_sees_layout_not_colour() -> None:
    from bench import quality

    g = torch.Generator().manual_seed(5)
    content = torch.rand(1, 16, 40, 40, generator=g)
    assert quality.structure_distance(content, content) < 1e-6
    # a shift common to every place (centred away) and a gain (cosines) leave the layout as it was
    assert quality.structure_distance(content * 1.7 + 0.3, content) < 1e-5
    # the layout mirrored (what resembles what, where, changes) is far
    assert quality.structure_distance(content.flip(-1), content) > 0.2


def test_copied_share_counts_positions_nearer_to_the_painting_than_to_the_photo() -> None:
    from bench import quality

    g = torch.Generator().manual_seed(3)
    content, style = torch.rand(1, 8, 6, 6, generator=g), torch.rand(1, 8, 6, 7, generator=g)
    assert quality.copied_share(content, content, style) == 0.0  # the photo itself copies nothing
    # the painting's own features pasted over the left half of the photo's: that half (and only it) is copied
    pasted = content.clone()
    pasted[..., :3] = style[..., :6, :3]
    assert quality.copied_share(pasted, content, style) == 0.5
    # an image made of painting positions only is all copied
    assert quality.copied_share(style[..., :6], content, style) == 1.0
