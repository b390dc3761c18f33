"""The three registries take a new entry as one new module: a style method, an answer form and a backbone,
each dropped into a copy of the packages, appear everywhere they should without another file changing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tools.torchserve import ROOT

TOY_METHOD = '''
"""A toy style method: match each style layer's channel means (one module, nothing else changed)."""
from __future__ import annotations
import torch
from ..param_field import param
from .base import StyleMethod

class ChannelMeans(StyleMethod):
    name = "means"
    summary = "channel means only (a test method)"
    params = (("means_power", float, param(2.0, "Exponent of the mean difference.", min=1.0, max=4.0)),)

    def prepare(self, stage):
        with torch.no_grad():
            feats = [stage.features(s) for s in stage.styles]
            targets = {k: sum(w * f[k].float().mean(dim=(-2, -1)) for f, w in zip(feats, stage.blend)) for k in stage.layers}
        power = stage.params.means_power

        def term(features):
            return sum(w * (features[k].float().mean(dim=(-2, -1)) - targets[k]).abs().pow(power).sum(-1)
                       / (targets[k].abs().pow(power).sum(-1) + 1e-8) for k, w in zip(stage.layers, stage.layer_weights))
        return term

    def state_bytes(self, params, backbone, style_pixels, styles, stage_pixels, seen_pixels):
        return 12345

METHOD = ChannelMeans()
'''

TOY_FORM = '''
"""A toy answer form: the final image's size as text."""
from .base import Answer, AnswerForm

class SizeAnswer(Answer):
    content_type = "text/plain"
    def finish(self, done, png):
        self.result = "x".join(map(str, done["size"]))
    def late_error(self, message):
        return ""

FORM = AnswerForm("size", SizeAnswer, accepts=("text/plain",), help="the final size as text")
'''

TOY_BACKBONE = '''
"""VGG11 (configuration "A"), random weights only: a backbone is data plus its weight sources."""
from .base import Backbone

BACKBONE = Backbone(name="vgg11", blocks=((64, 1), (128, 1), (256, 2), (512, 2), (512, 2)), sources=(),
                    step_bytes_per_pixel={"fp32": 2000, "bf16": 1400}, style_forward_bytes_per_pixel={"fp32": 1000, "bf16": 700},
                    preference=9)
'''

CHECK = textwrap.dedent('''
    import json, sys
    from PIL import Image
    from stylize import Engine, StyleParams, weights, methods, backbones
    from serving import forms, memory
    from serving.request import parse
    from stylize.params import markdown_table
    schema = StyleParams.schema()
    state, info = weights.obtain("random", network="vgg11")
    engine = Engine(state, info, "cpu")
    content, style = Image.new("RGB", (40, 30), (200, 90, 30)), Image.effect_noise((32, 32), 60).convert("RGB")
    params = StyleParams(size=32, iterations=3, snapshot_every=0, style_loss="means", means_power=1.5)
    final = list(engine.run(engine.job(content, [style], params)))[-1]
    request = parse({"content": open(sys.argv[1], "rb").read(), "style": open(sys.argv[1], "rb").read(), "style_loss": "means",
                     "means_power": "3"}, accept="text/plain", network="vgg11")
    print(json.dumps({
        "choices": schema["style_loss"]["choices"], "param": schema.get("means_power"),
        "final": [final.iteration, final.stopped], "form": request.response, "forms": list(forms.NAMES),
        "power": request.job.params.means_power, "networks": list(backbones.NAMES),
        "memory": memory.estimate_bytes(params, (40, 30), [(32, 32)]) - memory.estimate_bytes(
            StyleParams(size=32, iterations=3, snapshot_every=0, style_loss="gram"), (40, 30), [(32, 32)]),
        "table": "means_power" in markdown_table(),
    }))
''')


def test_one_module_each_adds_a_method_a_form_and_a_backbone(tmp_path: Path) -> None:
    for package in ("stylize", "serving"):
        shutil.copytree(ROOT / "handler" / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "stylize" / "methods" / "means.py").write_text(TOY_METHOD)
    (tmp_path / "serving" / "forms" / "size.py").write_text(TOY_FORM)
    (tmp_path / "stylize" / "backbones" / "vgg11.py").write_text(TOY_BACKBONE)
    picture = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (24, 16), (10, 200, 30)).save(picture)
    env_path = f"{tmp_path}:{ROOT / 'client'}"
    proc = subprocess.run([sys.executable, "-c", CHECK, str(picture)], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert "means" in seen["choices"] and seen["param"]["when"] == {"style_loss": "means"} and seen["param"]["max"] == 4.0
    assert seen["final"] == [3, "completed"]
    assert seen["form"] == "size" and "size" in seen["forms"] and seen["power"] == 3.0
    assert "vgg11" in seen["networks"] and seen["memory"] == 12345 and seen["table"]
