"""The served configuration is hardened: checked on the files that ship, not on a copy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [p for p in (ROOT / "config.properties", ROOT / "deploy" / "docker" / "config.properties") if p.exists()]


def properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(ROOT)) for p in CONFIGS])
def test_torchserve_config_is_hardened(path: Path) -> None:
    props = properties(path)
    assert re.fullmatch(r"https?://127\.0\.0\.1:\d+", props["management_address"])
    assert props["grpc_management_address"] == "127.0.0.1"  # TorchServe always starts gRPC management too
    assert props["enable_model_api"] == "false"
    assert props.get("install_py_dep_per_model", "false") == "false"
    pattern = props["allowed_urls"].replace("\\\\", "\\")
    for evil in ("https://evil.example/model.mar", "http://169.254.169.254/latest/meta-data", "file:///etc/passwd"):
        assert not any(re.fullmatch(p, evil) for p in pattern.split(",")), evil
    assert int(props["max_request_size"]) <= 128 * 2**20
    assert props.get("cors_allowed_origin", "") != "*"
    assert int(props["job_queue_size"]) <= 100


def test_local_config_binds_every_api_to_loopback() -> None:
    props = properties(ROOT / "config.properties")
    for key in ("inference_address", "management_address", "metrics_address"):
        assert props[key].startswith("http://127.0.0.1:"), key


def test_runtime_code_never_unpickles() -> None:
    """Requests never reach a pickle loader: the serving path loads weights from safetensors only."""
    runtime = [ROOT / "handler" / "style_handler.py", *(ROOT / "handler" / "stylize").glob("*.py")]
    offenders = []
    for path in runtime:
        text = path.read_text()
        if re.search(r"\bpickle\b|torch\.load\(", text) and path.name != "weights.py":
            offenders.append(path.name)
    assert offenders == []
    weights_src = (ROOT / "handler" / "stylize" / "weights.py").read_text()
    # The one torch.load is the export step reading torchvision's .pth, and only with weights_only=True.
    assert all("weights_only=True" in call for call in re.findall(r"torch\.load\([^)]*\)", weights_src))
