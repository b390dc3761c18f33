"""The documented curl examples, run as written with a real-sized photo against the real TorchServe through
the local nginx front, so the docs cannot drift: the README's one png job and docs/api.md's four answer forms
(png, stream, json, JSON body). Each page marks its block once with `<!-- curl-examples: ... -->`.

The commands are the pages' text, executed by bash. Only a `curl` shell function wraps the real
curl to (a) point the documented http://127.0.0.1:8000 at the test front's free port, (b) shrink the
job for two shared CPU cores (size=256 -> 32, iterations=100 -> 4 and snapshot_every=2 set or added, so the
json form still has snapshots; in a JSON body file the same keys of "params") and (c) fail on HTTP errors (--fail-with-body). Upload sizes,
encodings and the shell plumbing (base64, printf, pipes into jq) are the pages'.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter

from deploy.nginx_render import Nginx
from tools.torchserve import ROOT

pytestmark = pytest.mark.integration

MARKER = "<!-- curl-examples:"
README_BASE = "http://127.0.0.1:8000"
SIZE, ITERATIONS, EVERY = 32, 4, 2

WRAPPER = r"""
set -euo pipefail
shrink_json() {
  "$PY" -c 'import json, sys
path = sys.argv[1]; body = json.load(open(path))
body.setdefault("params", {}).update(size=int(sys.argv[2]), iterations=int(sys.argv[3]))
json.dump(body, open(path, "w"))' "$1" "$SIZE" "$ITERATIONS"
}
curl() {
  local args=() prev="" form=0 every=0 iters=0 a
  for a in "$@"; do
    case "$a" in "$README_BASE"*) a="$FRONT${a#"$README_BASE"}";; esac
    if [ "$prev" = "-F" ]; then
      form=1
      case "$a" in size=*) a="size=$SIZE";; iterations=*) a="iterations=$ITERATIONS"; iters=1;;
                   snapshot_every=*) a="snapshot_every=$EVERY"; every=1;; esac
    fi
    if [ "$prev" = "--data-binary" ] && [ "${a#@}" != "$a" ]; then shrink_json "${a#@}"; fi
    args+=("$a"); prev="$a"
  done
  if [ "$form" = 1 ] && [ "$iters" = 0 ]; then args+=(-F "iterations=$ITERATIONS"); fi
  if [ "$form" = 1 ] && [ "$every" = 0 ]; then args+=(-F "snapshot_every=$EVERY"); fi
  command curl -sS --fail-with-body "${args[@]}"
}
"""


README = ROOT / "README.md"
API_PAGE = ROOT / "docs" / "api.md"


def documented_commands(page: Path) -> list[str]:
    """The shell commands of a page's curl-examples block (continuations joined, comments dropped)."""
    text = page.read_text()
    assert text.count(MARKER) == 1, f"{page.name} must mark its curl examples block once"
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("\n```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


def photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG (gradients, shapes, sensor noise) of realistic byte size."""
    noise = Image.effect_noise((width, height), 40 + seed).convert("RGB")
    img = Image.new("RGB", (width, height), (90 + seed * 20, 140, 200))
    draw = ImageDraw.Draw(img)
    for i in range(12):
        x, y = (i * 97 + seed * 31) % width, (i * 53 + seed * 17) % height
        draw.ellipse([x, y, x + width // 4, y + height // 5], fill=((i * 40) % 255, (i * 70 + seed) % 255, (i * 110) % 255))
    img = Image.blend(img.filter(ImageFilter.GaussianBlur(3)), noise, 0.25)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_readme_block_is_one_png_job() -> None:
    commands = documented_commands(README)
    assert len(commands) == 1 and commands[0].startswith("curl "), commands
    assert README_BASE + "/predictions/style_transfer" in commands[0] and commands[0].endswith("-o out.png")
    assert "-F size=256" in commands[0] and "-F iterations=100" in commands[0] and "response=" not in commands[0]


def test_api_page_block_is_the_four_documented_forms() -> None:
    commands = documented_commands(API_PAGE)
    curls = [c for c in commands if c.startswith("curl ")]
    assert len(curls) == 4, commands
    assert all(README_BASE + "/predictions/style_transfer" in c for c in curls)
    assert [("response=stream" in c, "response=json" in c, "--data-binary @" in c) for c in curls] == [
        (False, False, False), (True, False, False), (False, True, False), (False, False, True)]
    # No image's base64 on a command line (that is what failed with a real photo).
    assert not any("$(base64" in c for c in curls)
    # Every example is a small job as written (the defaults, 512 px x 300 iterations, take minutes on a CPU).
    multipart = curls[:3]
    assert all("-F size=256" in c and "-F iterations=100" in c for c in multipart), multipart
    printf = next(c for c in commands if c.startswith("printf "))
    assert '"params": {"size": 256, "iterations": 100}' in printf


def test_curl_examples_work_with_a_real_sized_photo(front: Nginx, tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(photo(1200, 900, 0))
    for name, seed in (("painting.jpg", 1), ("a.jpg", 2), ("b.jpg", 3)):
        (tmp_path / name).write_bytes(photo(800, 600, seed))
    assert (tmp_path / "photo.jpg").stat().st_size > 100_000
    env = {"PATH": "/usr/bin:/bin", "FRONT": front.url, "README_BASE": README_BASE, "PY": sys.executable,
           "SIZE": str(SIZE), "ITERATIONS": str(ITERATIONS), "EVERY": str(EVERY)}
    outputs = []
    for command in documented_commands(README) + documented_commands(API_PAGE):
        (tmp_path / "out.png").unlink(missing_ok=True)
        run = subprocess.run(["bash", "-c", WRAPPER + command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, (command, run.stdout[-500:], run.stderr[-2000:], front.tail()[-1500:])
        outputs.append((command, run.stdout, (tmp_path / "out.png").read_bytes() if (tmp_path / "out.png").exists() else None))

    readme_png, png, stream, as_json, body, json_body = outputs
    assert Image.open(io.BytesIO(readme_png[2])).size == (SIZE, SIZE * 3 // 4)
    assert Image.open(io.BytesIO(png[2])).size == (SIZE, SIZE * 3 // 4)
    events = [json.loads(line) for line in stream[1].splitlines() if line.strip()]
    kinds = [e["event"] for e in events]
    # the plan (its stages) first, then snapshots, then done
    assert kinds[0] == "plan" and kinds[-1] == "done" and len(kinds) >= 3 and set(kinds[1:-1]) == {"snapshot"}, kinds
    assert events[-1]["size"] == [SIZE, SIZE * 3 // 4]
    assert re.fullmatch(r"\d+\n", as_json[1]) and int(as_json[1]) >= 1, as_json[1]
    assert body[0].startswith("printf ") and json.loads((tmp_path / "body.json").read_text())["params"]["size"] == SIZE
    assert (tmp_path / "body.json").stat().st_size > 4 * 100_000 / 3, "the whole photo went into the body"
    assert Image.open(io.BytesIO(json_body[2])).size == (SIZE, SIZE * 3 // 4)
