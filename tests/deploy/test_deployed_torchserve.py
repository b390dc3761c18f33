"""TorchServe started from the image's config (deploy/docker/config.properties), not the local one.

Only what a pod has and a test machine has not is replaced: listen addresses (free loopback
ports instead of 0.0.0.0:8080), the model store path and, with it, allowed_urls.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.torchserve import TorchServe, render_config

pytestmark = pytest.mark.integration

DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "config.properties"


class DeployedTorchServe(TorchServe):
    def write_config(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        overrides = {
            "inference_address": self.url,
            "management_address": self.management_url,
            "metrics_address": self.metrics_url,
            # gRPC stays on loopback as configured; per-instance ports so instances never collide.
            "grpc_inference_port": str(self.grpc_ports[0]),
            "grpc_management_port": str(self.grpc_ports[1]),
            "model_store": str(self.model_store),
            "allowed_urls": f"file://{self.model_store}/.*\\\\.mar",
        }
        self.config_path.write_text(render_config(DEPLOY_CONFIG.read_text(), overrides))
        return self.config_path


@pytest.fixture(scope="module")
def deployed(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedTorchServe]:
    server = DeployedTorchServe(model_store, tmp_path_factory.mktemp("deployed-torchserve"))
    try:
        server.start()  # waits for /ping Healthy and a READY worker
        yield server
    finally:
        server.stop()


def test_only_addresses_ports_and_paths_are_replaced(deployed: DeployedTorchServe) -> None:
    def keys(text: str) -> dict[str, str]:
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))

    original, started = keys(DEPLOY_CONFIG.read_text()), keys(deployed.config_path.read_text())
    assert original.keys() == started.keys()
    replaced = {k for k in original if original[k] != started[k]}
    assert replaced == {"inference_address", "management_address", "metrics_address", "grpc_inference_port", "grpc_management_port", "model_store", "allowed_urls"}
    assert started["management_address"].startswith("http://127.0.0.1:") and started["grpc_management_address"] == "127.0.0.1"


def test_the_management_api_cannot_register_models(deployed: DeployedTorchServe) -> None:
    r = httpx.post(f"{deployed.management_url}/models", params={"url": "https://example.com/evil.mar"}, timeout=10)
    assert r.status_code in (400, 403, 405), r.text
    assert httpx.get(f"{deployed.management_url}/models", timeout=10).json()["models"][0]["modelName"] == "style_transfer"


def test_no_cors_headers_in_cluster(deployed: DeployedTorchServe) -> None:
    # Same origin behind nginx: TorchServe grants no cross-origin access.
    r = httpx.options(deployed.model_url, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}, timeout=10)
    assert "access-control-allow-origin" not in r.headers


def test_prometheus_metrics(deployed: DeployedTorchServe) -> None:
    r = httpx.get(f"{deployed.metrics_url}/metrics", timeout=10)
    assert r.status_code == 200 and "# TYPE ts_" in r.text
