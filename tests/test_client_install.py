"""`pip install ./client` into a fresh venv (no system site-packages): the client works with only
httpx, tqdm and Pillow beside it (pip takes them from the configured index or local wheel store)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_client_installs_and_imports_alone(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    # A copy: setuptools builds in the source directory (build/, *.egg-info), which must stay clean.
    source = shutil.copytree(ROOT / "client", tmp_path / "client", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
                   check=True, timeout=600, capture_output=True)
    installed = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"], check=True, capture_output=True, text=True).stdout
    names = {line.split("==")[0].lower() for line in installed.split()}
    # pillow: uploads shrink to what the job reads (stylize_client.uploads); never torch or numpy
    assert {"httpx", "tqdm", "pillow", "stylize-client"} <= names and not names & {"torch", "numpy"}, names
    check = ("import sys, stylize_client, stylize_client.cli; "
             "bad = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'stylize', 'serving', 'PIL'}); "
             "assert not bad, bad; print(len(stylize_client.cli.STYLE_FIELDS))")
    out = subprocess.run([str(py), "-c", check], check=True, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.stdout.strip() == "8"  # the schema file shipped inside the package was found
    helped = subprocess.run([str(venv / "bin" / "stylize-client"), "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--style-weight" in helped.stdout
