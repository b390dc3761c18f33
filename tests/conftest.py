"""Shared fixtures: one tiny random-init model archive and one real TorchServe per session.

Every server binds 127.0.0.1 on free ports and is stopped in teardown even when tests fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stylize import weights

from tools import archive
from tools.static_server import serve_in_thread
from tools.torchserve import TorchServe, free_port


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded random-init VGG19 conv weights, exported once (no internet here)."""
    path = tmp_path_factory.mktemp("weights") / archive.WEIGHTS_FILE
    weights.export(path, mode="random", seed=0)
    return path


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory, weights_file: Path) -> Path:
    """A model store holding style_transfer.mar built exactly as `make archive` builds it."""
    store = tmp_path_factory.mktemp("model_store")
    archive.build(store, weights_file=weights_file)
    return store


def start_torchserve(model_store: Path, run_dir: Path, **kwargs: object) -> TorchServe:
    return TorchServe(model_store, run_dir, **kwargs).start()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def torchserve(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """The project's config.properties on free loopback ports; CORS admits `frontend_url`."""
    cors_origin = f"http://127.0.0.1:{free_port()}"
    server = TorchServe(model_store, tmp_path_factory.mktemp("torchserve"), cors_origin=cors_origin)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def frontend_url(torchserve: TorchServe) -> Iterator[str]:
    """frontend/ served at the origin TorchServe's CORS admits; its config.js points at TorchServe."""
    port = int(torchserve.cors_origin.rsplit(":", 1)[1])
    server, thread = serve_in_thread(port, torchserve.url)
    try:
        yield f"{torchserve.cors_origin}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
