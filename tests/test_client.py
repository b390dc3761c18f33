"""`python -m stylize_client`: the addresses it accepts, its checks before sending anything, and
Ctrl-C closing the stream (so the server drops the job), against a fake streaming server and the
real TorchServe behind the local front."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_servers import SNAPSHOT, fake_upstream
from images_util import content_image, style_image
from PIL import Image
from stylize_client.cli import INTERRUPTED, ClientError, endpoint, result_location

from deploy.nginx_render import Nginx
from tools.torchserve import ROOT, TorchServe

CLIENT_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (ROOT, ROOT / "handler", ROOT / "client")))}


def client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylize_client", *args], capture_output=True, text=True, timeout=300, env=CLIENT_ENV)


@pytest.fixture
def pictures(tmp_path: Path) -> tuple[str, str]:
    content_image(40, 30).save(tmp_path / "content.png")
    style_image(32).save(tmp_path / "style.png")
    return str(tmp_path / "content.png"), str(tmp_path / "style.png")


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000/predictions/style_transfer"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/predictions/style_transfer"),
    ("http://127.0.0.1:8080/predictions/style_transfer", "http://127.0.0.1:8080/predictions/style_transfer"),
    ("http://localhost:8000/predictions/style_transfer/", "http://localhost:8000/predictions/style_transfer"),
    ("http://127.0.0.1:8080/predictions", "http://127.0.0.1:8080/predictions/style_transfer"),
    ("http://127.0.0.1:8000/ping", "http://127.0.0.1:8000/predictions/style_transfer"),
    ("http://127.0.0.1:8000/capabilities", "http://127.0.0.1:8000/predictions/style_transfer"),
    ("127.0.0.1:8000", "http://127.0.0.1:8000/predictions/style_transfer"),
    ("https://style.example.com/api", "https://style.example.com/api/predictions/style_transfer"),
])
def test_every_address_a_user_has_reaches_the_inference_endpoint(given: str, expected: str) -> None:
    assert endpoint(given) == expected


@pytest.mark.parametrize("link", ["http://h:8000/r/AbCdEfGhIjKlMnOpQrStUv", "http://h:8000/results/AbCdEfGhIjKlMnOpQrStUv/final.png",
                                  "h:8000/r/AbCdEfGhIjKlMnOpQrStUv/", "AbCdEfGhIjKlMnOpQrStUv"])
def test_result_links_and_ids_are_understood(link: str) -> None:
    assert result_location(link, "http://h:8000/predictions/style_transfer") == ("http://h:8000", "AbCdEfGhIjKlMnOpQrStUv")


@pytest.mark.parametrize("link", ["http://h/r/short", "http://h/r/../etc/passwd", "AbCdEfGhIjKlMnOpQrStUvW", "http://h/other/AbCdEfGhIjKlMnOpQrStUv"])
def test_other_links_are_refused(link: str) -> None:
    with pytest.raises(ClientError, match="result:"):
        result_location(link)


@pytest.mark.parametrize("output", ["missing/x.png", "."])
def test_unwritable_output_is_refused_before_sending(pictures: tuple[str, str], tmp_path: Path, output: str) -> None:
    with fake_upstream() as server:
        r = client(*pictures, "--url", server.url, "-o", str(tmp_path / output))
        assert server.requests == []
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: output: ")


def as_from_a_terminal() -> None:
    """In the child before exec: SIGINT as a terminal's foreground command has it. A suite started in the
    background of a non-interactive shell (`make test &`) inherits SIGINT ignored, and Python keeps an
    inherited SIG_IGN (as every Unix program should): the client would rightly never see the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_closes_the_stream_and_says_so(pictures: tuple[str, str], tmp_path: Path) -> None:
    with fake_upstream() as server:
        proc = subprocess.Popen([sys.executable, "-m", "stylize_client", *pictures, "--url", server.url, "-o", str(tmp_path / "o.png"),
                                 "--snapshots-dir", str(tmp_path / "snaps")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=CLIENT_ENV, preexec_fn=as_from_a_terminal)
        try:
            # Snapshots are arriving (the fake server streams one every 0.2 s until the client leaves).
            deadline = time.monotonic() + 120
            while not (tmp_path / "snaps").is_dir() or len(list((tmp_path / "snaps").iterdir())) < 2:
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.1)
            assert not server.stream_closed.is_set()
            proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert server.stream_closed.wait(5), "the server never saw the connection close"
        assert server.closed_at is not None and server.closed_at - sent < 10.0  # promptly, not at some timeout
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_queued_positions_are_shown_then_the_job_runs(pictures: tuple[str, str], tmp_path: Path) -> None:
    done = {**SNAPSHOT, "event": "done", "iteration": 2, "iterations": 2, "stopped": "completed", "timings": {"total_s": 0.5}}
    with fake_upstream() as server:
        server.script = [{"event": "queued", "position": 2}, {"event": "queued", "position": 1},
                         {**SNAPSHOT, "iterations": 2}, done]
        r = client(*pictures, "--url", server.url, "-o", str(tmp_path / "o.png"))
    assert r.returncode == 0, r.stderr
    queued = [line for line in r.stderr.splitlines() if line.startswith("queued")]
    assert queued == ["queued: position 2", "queued: position 1"]
    assert Image.open(tmp_path / "o.png").size == (4, 3)
    assert "wrote" in r.stdout and "RANDOM-INIT" in r.stdout


def test_a_built_in_style_by_name_is_sent_as_style_name(pictures: tuple[str, str], tmp_path: Path) -> None:
    done = {**SNAPSHOT, "event": "done", "iteration": 1, "iterations": 1, "stopped": "completed", "timings": {"total_s": 0.5}}
    with fake_upstream() as server:
        server.script = [done]
        r = client(pictures[0], "--style-name", "hokusai_great-wave", "--style-name", "picabia_udnie", "--url", server.url,
                   "-o", str(tmp_path / "o.png"))
    assert r.returncode == 0, r.stderr
    body = server.bodies[-1]
    assert b'name="style_name"\r\n\r\nhokusai_great-wave,picabia_udnie\r\n' in body
    assert b'name="style"' not in body and b'name="content"' in body


@pytest.mark.parametrize("extra", [[], ["--style-name", "picabia_udnie", "STYLE"]])
def test_styles_come_as_files_or_names_not_both_nor_neither(pictures: tuple[str, str], tmp_path: Path, extra: list[str]) -> None:
    args = [pictures[1] if a == "STYLE" else a for a in extra]
    r = client(pictures[0], *args, "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2 and "--style-name" in r.stderr, r.stderr


@pytest.mark.integration
@pytest.mark.parametrize("which", ["front root", "printed inference URL", "torchserve root"])
def test_live_job_through_each_address(which: str, front: Nginx, torchserve: TorchServe, pictures: tuple[str, str], tmp_path: Path) -> None:
    url = {"front root": front.url, "printed inference URL": f"{front.url.replace('127.0.0.1', 'localhost')}/predictions/style_transfer",
           "torchserve root": torchserve.url}[which]
    out = tmp_path / "out.png"
    r = client(*pictures, "--url", url, "-o", str(out), "--size", "32", "--iterations", "2", "--no-multiscale")
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (32, 24)


def _parts(body: bytes) -> dict[str, tuple[str, bytes]]:
    """field -> (file name, bytes) of a multipart body's file parts."""
    boundary = body.split(b"\r\n", 1)[0]
    out = {}
    for part in body.split(boundary)[1:-1]:
        head, _, data = part.partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        if "filename=" in disposition:
            name = disposition.split('name="', 1)[1].split('"', 1)[0]
            out[name] = (disposition.split('filename="', 1)[1].split('"', 1)[0], data.removesuffix(b"\r\n"))
    return out


def test_uploads_are_downscaled_to_what_the_job_reads_unless_kept_original(tmp_path: Path) -> None:
    """A 1200x900 photo for a 64 px job goes as 64x48 (a JPEG stays a JPEG, upright); a style as size x style_scale;
    a picture already small enough goes byte for byte; --keep-original sends the files as they are."""
    photo, painting, small = tmp_path / "photo.jpg", tmp_path / "painting.png", tmp_path / "small.png"
    rotated = content_image(900, 1200)  # stored sideways with EXIF orientation 6 (rotate 90° clockwise to show)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.transpose(Image.Transpose.ROTATE_90).save(photo, "JPEG", quality=95, exif=exif)
    style_image(700).save(painting)
    content_image(40, 30).save(small)
    done = {**SNAPSHOT, "event": "done", "iteration": 1, "iterations": 1, "stopped": "completed", "timings": {"total_s": 0.5}}
    with fake_upstream() as server:
        server.script = [done]
        r = client(str(photo), str(painting), str(small), "--size", "64", "--style-scale", "2", "--url", server.url,
                   "-o", str(tmp_path / "o.png"))
        assert r.returncode == 0, r.stderr
        sent = _parts(server.bodies[-1])
        server.script = [done]
        kept = client(str(photo), str(painting), "--size", "64", "--keep-original", "--url", server.url, "-o", str(tmp_path / "k.png"))
        assert kept.returncode == 0, kept.stderr
        originals = _parts(server.bodies[-1])
    content = Image.open(io.BytesIO(sent["content"][1]))
    assert (content.format, content.size, sent["content"][0]) == ("JPEG", (48, 64), "photo.jpg")  # upright: portrait
    style = Image.open(io.BytesIO(sent["style"][1]))
    assert (style.format, style.size) == ("PNG", (128, 128))
    assert sent["style_2"][1] == small.read_bytes()
    assert "content: sent at 48x64 (from 1200x900" in r.stderr and "style: sent at 128x128 (from 700x700" in r.stderr
    assert "style_2" not in r.stderr
    assert originals["content"][1] == photo.read_bytes() and originals["style"][1] == painting.read_bytes()
    assert "sent at" not in kept.stderr


def test_the_servers_switches_are_options_and_no_store_asks_for_no_share_link(pictures: tuple[str, str], tmp_path: Path) -> None:
    """--no-store / --store-inputs come from the schema's switches (fields.switches): sent as store=false, store_inputs=true;
    not given, nothing is sent and the server's default (a share link) holds."""
    done = {**SNAPSHOT, "event": "done", "iteration": 1, "iterations": 1, "stopped": "completed", "timings": {"total_s": 0.5}}
    with fake_upstream() as server:
        server.script = [done]
        r = client(*pictures, "--no-store", "--store-inputs", "--url", server.url, "-o", str(tmp_path / "o.png"))
        assert r.returncode == 0, r.stderr
        body = server.bodies[-1]
        server.script = [done]
        assert client(*pictures, "--url", server.url, "-o", str(tmp_path / "d.png")).returncode == 0
        default = server.bodies[-1]
    assert b'name="store"\r\n\r\nfalse\r\n' in body and b'name="store_inputs"\r\n\r\ntrue\r\n' in body
    assert b'name="store"' not in default and b'name="store_inputs"' not in default
    assert "--no-store" in client("--help").stdout
