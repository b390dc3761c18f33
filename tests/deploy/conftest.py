"""The real nginx (Debian package) running the deployed nginx.conf in front of the session's TorchServe.

Only the upstream address, listen port, static root and /tmp/ prefix are replaced
(deploy/nginx_render.py), so what the proxy tests and the browser test see is what the front pods run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy import nginx_render
from tools.torchserve import TorchServe


@pytest.fixture(scope="session")
def nginx(torchserve: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[nginx_render.Nginx]:
    """nginx on a free loopback port in front of `torchserve`; stopped in teardown whatever happened."""
    proxy = nginx_render.start(torchserve.url.removeprefix("http://"), tmp_path_factory.mktemp("nginx"))
    try:
        yield proxy
    finally:
        nginx_render.stop(proxy.process)
