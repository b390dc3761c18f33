"""The Python client's lines in README.md and docs/api.md, run as written from a directory holding the
photos they name, against the real TorchServe behind the local nginx front: `.venv/bin/stylize-client` is
the console script `make install` writes. Only the documented http://127.0.0.1:8000 becomes the test front's
port (the same for $STYLE_URL, the default), a job is shrunk by appending `--size 32 --iterations 4` (later
options win), and `<id>` becomes the id of the result a job before it printed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from test_readme_curl import README_BASE, photo

from deploy.nginx_render import Nginx
from tools.torchserve import ROOT

pytestmark = pytest.mark.integration

PAGES = (ROOT / "README.md", ROOT / "docs" / "api.md")
CLIENT = re.compile(r"^\.venv/bin/(?:stylize-client|python -m stylize_client)\b")
SHRINK = " --size 32 --iterations 4"


def documented_client_lines(page: Path) -> list[str]:
    """Client commands of a page: inline code spans and code-block lines (continuations joined)."""
    text = page.read_text()
    found = [span for span in re.findall(r"`([^`\n]+)`", text) if CLIENT.match(span)]
    for block in re.findall(r"```bash\n(.*?)\n```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", "", block)
        found += [line.strip() for line in joined.splitlines() if CLIENT.match(line.strip())]
    return found


def test_the_pages_show_the_console_script_and_get() -> None:
    lines = [line for page in PAGES for line in documented_client_lines(page)]
    readme = documented_client_lines(PAGES[0])
    assert readme and all(line.startswith(".venv/bin/stylize-client ") for line in readme), readme
    assert any(" get " in line for line in lines), lines
    assert not any("…" in line or "[" in line for line in lines), "every documented line runs as written"


def test_the_console_script_is_installed_and_its_help_names_get() -> None:
    script = ROOT / ".venv" / "bin" / "stylize-client"
    assert script.is_file(), "make install writes the client's console script"
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, cwd="/")
    assert helped.returncode == 0 and "--style-weight" in helped.stdout
    assert "stylize-client get" in helped.stdout


def test_the_documented_client_lines_run(front: Nginx, tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(photo(1200, 900, 0))
    (tmp_path / "painting.jpg").write_bytes(photo(800, 600, 1))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {"PATH": "/usr/bin:/bin", "STYLE_URL": front.url, "HOME": str(tmp_path)}
    commands = [line for page in PAGES for line in documented_client_lines(page)]
    jobs = [c for c in commands if " get " not in c]
    gets = [c for c in commands if " get " in c]
    assert jobs and gets
    result_id = None
    for command in jobs + gets:
        (tmp_path / "out.png").unlink(missing_ok=True)
        line = command.replace(README_BASE, front.url).replace("localhost:8000", front.url.removeprefix("http://"))
        if " get " in command:
            assert result_id, "a job before it printed a share link"
            line = line.replace("<id>", result_id)
        else:
            line += SHRINK
        run = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, (command, run.stdout[-800:], run.stderr[-1500:])
        written = re.search(r"-o (\S+)", line)[1]
        assert (tmp_path / written).read_bytes().startswith(b"\x89PNG"), command
        shared = re.search(r"/r/([A-Za-z0-9_-]{22})", run.stdout)
        result_id = shared[1] if shared else result_id
