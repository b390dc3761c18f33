"""HTTP client for the style-transfer service: streams the snapshot sequence as it happens.

    stylize-client CONTENT STYLE [STYLE ...] --url http://127.0.0.1:8000 -o out.png \\
        [--snapshots-dir DIR] [--size 256 --iterations 200 ...every engine parameter]
    stylize-client get http://127.0.0.1:8000/r/<id> -o out.png     # a stored result, again

(also ``python -m stylize_client``). --url takes the web app's address (the nginx front), TorchServe's own (:8080) or the full inference URL
that `make serve` prints. Ctrl-C closes the connection, which makes the server drop the job.
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from stylize_options import OptionError, add_param_options, check_writable, collect_params, prepare_dir
from tqdm import tqdm

from .schema import shipped_schema

PARAMS = shipped_schema()["params"]
STYLE_FIELDS: list[str] = shipped_schema()["fields"]["style"]

DEFAULT_URL = os.environ.get("STYLE_URL", "http://127.0.0.1:8000")
MODEL_PATH = "/predictions/style_transfer"
INTERRUPTED = "interrupted: closed the connection, so the server drops the job"


def endpoint(url: str) -> str:
    """The inference URL for any address a user may have: a server or front root (http://host:8000),
    the inference URL itself (…/predictions/style_transfer), …/predictions, …/ping or …/capabilities."""
    base = url.strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    path = urlsplit(base).path
    if re.search(r"/predictions/[^/]+$", path):
        return base
    if path.endswith("/predictions"):
        return base + MODEL_PATH.removeprefix("/predictions")
    for tail in ("/ping", "/capabilities"):
        if path.endswith(tail):
            base = base.removesuffix(tail)
    return base + MODEL_PATH


class ClientError(RuntimeError):
    """The server refused the job or could not be reached; str() is the one-line message."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def form_fields(params: dict[str, Any]) -> dict[str, str]:
    return {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()}


def stream_job(url: str, content: Path, styles: list[Path], params: dict[str, Any],
               timeout: float = 3600.0, style_names: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """POST one job in `stream` form; yield each NDJSON event (snapshot…, then done). `style_names`: the server's
    built-in styles by name (its capabilities' `styles`), sent as `style_name` in place of style files."""
    files = [("content", (content.name, content.read_bytes(), mimetypes.guess_type(content.name)[0] or "application/octet-stream"))]
    for name, path in zip(STYLE_FIELDS, styles, strict=False):
        files.append((name, (path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream")))
    data = {**form_fields(params), "response": "stream", **({"style_name": ",".join(style_names)} if style_names else {})}
    target = endpoint(url)
    try:
        # Leaving this block for any reason (done, error, Ctrl-C, generator closed) closes the connection.
        with httpx.stream("POST", target, files=files, data=data, timeout=httpx.Timeout(timeout, connect=10)) as response:
            if response.status_code >= 400:
                response.read()
                raise ClientError(f"HTTP {response.status_code}: {_message(response)}", 2 if response.status_code < 500 else 3)
            for line in response.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("event") == "error":
                    raise ClientError(f"server error: {event.get('message')}", 3)
                yield event
                if event.get("event") == "done":
                    return
    except httpx.TransportError as exc:
        raise ClientError(f"cannot reach {target}: {exc.__class__.__name__}: {exc}", 3) from None
    raise ClientError("the stream ended before the result arrived (server restarted or connection cut)", 3)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.text[:200])
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase


RESULT_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def result_location(link: str, url: str = DEFAULT_URL) -> tuple[str, str]:
    """(server root, result id) from a share link (…/r/<id>), an image link (…/results/<id>/…) or a bare id."""
    text = link.strip()
    if RESULT_ID.fullmatch(text):
        parts = urlsplit(url if "://" in url else "http://" + url)
        return f"{parts.scheme}://{parts.netloc}", text
    parts = urlsplit(text if "://" in text else "http://" + text)
    match = re.fullmatch(r"(?:.*?)/(?:r|results)/([A-Za-z0-9_-]{22})(?:/[^/]*)?/?", parts.path)
    if not match:
        raise ClientError(f"result: {link!r} is not a result link (…/r/<id>) or id", 2)
    return f"{parts.scheme}://{parts.netloc}", match[1]


def share_root(url: str) -> str:
    parts = urlsplit(endpoint(url))
    return f"{parts.scheme}://{parts.netloc}"


def get_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stylize-client get", description="Fetch a stored result by its share link or id.")
    parser.add_argument("link", help="share link (http://host/r/<id>), image link, or the bare id (then --url)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the final PNG")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the server for a bare id (default: $STYLE_URL or {DEFAULT_URL})")
    args = parser.parse_args(argv)
    try:
        check_writable(args.output, "output")
        root, rid = result_location(args.link, args.url)
        record = httpx.get(f"{root}/results/{rid}/record.json", timeout=30)
        if record.status_code == 404:
            raise ClientError(f"result {rid}: not found (it expired or was deleted)", 2)
        if record.status_code >= 400:
            raise ClientError(f"HTTP {record.status_code}: {_message(record)}", 3)
        image = httpx.get(f"{root}/results/{rid}/final.png", timeout=60)
        if image.status_code != 200:
            raise ClientError(f"HTTP {image.status_code}: {_message(image)}", 3)
    except OptionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ClientError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except httpx.TransportError as exc:
        print(f"error: cannot reach the server: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 3
    args.output.write_bytes(image.content)
    doc = record.json()
    params = doc.get("params", {})
    print(f"wrote {args.output} {doc.get('size', ['?', '?'])[0]}x{doc.get('size', ['?', '?'])[1]}: {params.get('size')} px, "
          f"{params.get('iterations')} iterations, weights {doc.get('weights')}, {doc.get('stopped')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["get"]:
        return get_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="stylize-client", description="Run a style-transfer job on a server and stream its snapshots.",
        epilog="Fetch a stored result again: stylize-client get LINK -o out.png (LINK: the share link a job prints, "
               "http://host/r/<id>, or its id); stylize-client get --help for more.")
    parser.add_argument("content", type=Path)
    parser.add_argument("styles", type=Path, nargs="*", metavar="style", help="style image files (or --style-name)")
    parser.add_argument("--style-name", action="append", default=[], metavar="NAME",
                        help="a built-in style of the server instead of a file (GET /capabilities lists them under styles), "
                             "e.g. van-gogh_starry-night; repeat for several")
    parser.add_argument("--url", default=DEFAULT_URL,
                        help=f"the front (web app) URL, TorchServe's, or the inference URL (default: $STYLE_URL or {DEFAULT_URL})")
    parser.add_argument("-o", "--output", type=Path, required=True, help="final PNG")
    parser.add_argument("--snapshots-dir", type=Path, help="save every snapshot (JPEG) here as it arrives")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the whole job")
    add_param_options(parser, PARAMS)
    args = parser.parse_args(argv)
    if not args.styles and not args.style_name:
        parser.error("give at least one style image, or --style-name NAME (a built-in style of the server)")
    if args.styles and args.style_name:
        parser.error("give style images or --style-name, not both")
    for path in [args.content, *args.styles]:
        if not path.is_file():
            print(f"error: {path}: no such file", file=sys.stderr)
            return 2
    if max(len(args.styles), len(args.style_name)) > len(STYLE_FIELDS):
        print(f"error: style: at most {len(STYLE_FIELDS)} style images", file=sys.stderr)
        return 2
    try:
        check_writable(args.output, "output")
        if args.snapshots_dir:
            prepare_dir(args.snapshots_dir, "snapshots-dir")
    except OptionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    bar: tqdm | None = None
    events = stream_job(args.url, args.content, args.styles, collect_params(args, PARAMS), args.timeout, args.style_name)
    try:
        for event in events:
            if event["event"] == "plan":  # the stages the server will run; the bar counts iterations
                continue
            if event["event"] == "queued":  # waiting inside the worker for memory; snapshots follow
                print(f"queued: position {event.get('position')}", file=sys.stderr)
                continue
            if bar is None:
                bar = tqdm(total=event["iterations"], unit="it", dynamic_ncols=True, file=sys.stderr)
                if str(event.get("weights", "")).endswith("random-init"):  # e.g. vgg19/random-init
                    print(f"note: the server runs RANDOM-INIT weights ({event['weights']}): results are texture-only", file=sys.stderr)
            bar.update(event["iteration"] - bar.n)
            bar.set_postfix(stage=f"{event['stage']}/{event['stages']}", **{k: f"{v:.3g}" for k, v in event["losses"].items()})
            if event["event"] == "snapshot" and args.snapshots_dir:
                (args.snapshots_dir / f"snapshot_{event['iteration']:05d}.jpg").write_bytes(base64.b64decode(event["image"]))
            if event["event"] == "done":
                args.output.write_bytes(base64.b64decode(event["image"]))
                if args.snapshots_dir:
                    (args.snapshots_dir / f"snapshot_{event['iteration']:05d}.png").write_bytes(base64.b64decode(event["image"]))
                done = event
    except ClientError as err:
        if bar is not None:
            bar.close()
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        events.close()  # runs the stream's exit: the socket closes and the server drops the job
        if bar is not None:
            bar.close()
        print(f"\n{INTERRUPTED}", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    weights = str(done.get("weights", "?"))
    label = f" (RANDOM-INIT weights {weights}: texture only)" if weights.endswith("random-init") else f" (weights {weights})"
    print(f"wrote {args.output} {done['size'][0]}x{done['size'][1]} in {done['timings']['total_s']:.1f}s, {done['stopped']}{label}")
    if done.get("result"):
        root = share_root(args.url)
        print(f"shared at {root}{done['result']['url']}  (anyone with the link; delete: curl -X DELETE "
              f"-H 'X-Delete-Token: {done['delete_token']}' {root}/results/{done['result']['id']})")
    elif done.get("warning"):
        print(f"warning: {done['warning']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
