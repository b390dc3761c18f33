"""Kept jobs from the command line: a job's status, waiting for it, cancelling it (by its link, from any
machine), and batches of photos x styles.

    stylize-client status http://host:8000/r/<id> [--json]
    stylize-client wait   http://host:8000/r/<id> -o out.png [--timeout S]
    stylize-client cancel http://host:8000/r/<id> --token <cancel token>
    stylize-client PHOTO [PHOTO ...] --style A.jpg [--style B.jpg] -o OUTDIR [--jobs 2] [--size ...]

A status comes from the front (``/results/<id>/status.json``, a file the holding worker rewrites). Its
``Last-Modified`` is the worker's heartbeat: a job still *running* whose heartbeat is older than the status's
``stale_after_s`` (measured against the same response's ``Date``, so no clock needs to agree with the
server's) is reported *failed*, even when no server is left to rewrite the file.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from functools import wraps
from pathlib import Path
from typing import Any

import httpx
from stylize_options import OptionError, add_param_options, check_writable, collect_params
from tqdm import tqdm

from . import jobs as cli

ENDED = ("done", "failed", "cancelled")
MAX_FAILED_EXIT = 100  # the batch's exit code is the number of failed pairs, capped here (130 stays Ctrl-C)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _age(response: httpx.Response) -> float | None:
    """Seconds between the status file's last write (the heartbeat) and the response, by the server's clock."""
    try:
        return (parsedate_to_datetime(response.headers["date"]) - parsedate_to_datetime(response.headers["last-modified"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def fetch_status(link: str, url: str = cli.DEFAULT_URL, timeout: float = 30.0) -> tuple[str, dict[str, Any]]:
    """(server root, status) of a kept job; a finished result without a status reads as done."""
    root, rid = cli.result_location(link, url)
    try:
        r = httpx.get(f"{root}/results/{rid}/status.json", timeout=timeout)
        if r.status_code == 404:
            record = httpx.get(f"{root}/results/{rid}/record.json", timeout=timeout)
            if record.status_code == 200:  # an interactive job's result, or a kept one whose status expired
                return root, {"id": rid, "state": "done", "percent": 100.0, "result": {"id": rid, "url": f"/r/{rid}",
                                                                                      "image": f"/results/{rid}/final.png"}}
            raise cli.ClientError(f"result {rid}: no such job or result (it expired, or the link is wrong)", 2)
        if r.status_code == 429:
            raise cli.ClientError(f"rate limited; retry after {r.headers.get('retry-after', '?')} s", 4)
        if r.status_code >= 400:
            raise cli.ClientError(f"HTTP {r.status_code}: {cli.message_of(r)}", 3)
        status = r.json()
    except httpx.TransportError as exc:
        raise cli.ClientError(f"cannot reach {root}: {exc.__class__.__name__}: {exc}", 3) from None
    except ValueError:
        raise cli.ClientError(f"result {rid}: the server's status is not JSON", 3) from None
    age = _age(r)
    stale = status.get("stale_after_s")
    if status.get("state") in ("waiting", "running") and age is not None and isinstance(stale, (int, float)) and age > stale:
        status.update(state="failed", message=f"the worker holding this job stopped (no heartbeat for {age:.0f} s); submit it again")
    return root, status


def describe(status: dict[str, Any]) -> str:
    state = status.get("state", "?")
    if state == "running":
        eta = status.get("eta_s")
        return (f"running: {status.get('percent', 0):.0f} %, stage {status.get('stage', '?')}/{status.get('stages', '?')}, iteration "
                f"{status.get('iteration', 0)}/{status.get('iterations', '?')}" + (f", about {eta:.0f} s left" if eta is not None else ""))
    if state == "waiting":
        return f"waiting for memory (position {status.get('position')})" if status.get("position") else "waiting to start"
    if state == "done":
        return f"done: {status.get('result', {}).get('url', '')}"
    return f"{state}: {status.get('message', '')}".rstrip(": ")


def _said(main: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
    """One place that turns a command's failure into its message on stderr and its exit code (bad option 2,
    the server's refusal its own code, an unreachable server 3), so status, wait and cancel agree."""
    @wraps(main)
    def run(argv: list[str]) -> int:
        try:
            return main(argv)
        except OptionError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except cli.ClientError as err:
            print(f"error: {err}", file=sys.stderr)
            return err.exit_code
        except httpx.TransportError as exc:
            print(f"error: cannot reach the server: {exc}", file=sys.stderr)
            return 3
    return run


@_said
def status_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stylize-client status", description="A kept job's progress, by its link.")
    parser.add_argument("link", help="the job's link (http://host/r/<id>) or its id (then --url)")
    parser.add_argument("--url", default=cli.DEFAULT_URL, help="the server for a bare id")
    parser.add_argument("--json", action="store_true", help="print the status JSON")
    args = parser.parse_args(argv)
    _, status = fetch_status(args.link, args.url)
    print(json.dumps(status) if args.json else describe(status))
    return 0


@_said
def wait_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stylize-client wait", description="Wait for a kept job to end; write its picture.")
    parser.add_argument("link", help="the job's link (http://host/r/<id>) or its id (then --url)")
    parser.add_argument("-o", "--output", type=Path, help="where to write the final PNG when it is done")
    parser.add_argument("--url", default=cli.DEFAULT_URL, help="the server for a bare id")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between status polls (default 2)")
    parser.add_argument("--timeout", type=float, default=7200.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    if args.output is not None:
        check_writable(args.output, "output")
    status = wait_for(args.link, args.url, args.interval, args.timeout)
    if status["state"] != "done":
        print(f"error: {describe(status)}", file=sys.stderr)
        return 1
    if args.output is None:
        print(describe(status))
        return 0
    root, rid = cli.result_location(args.link, args.url)
    image = httpx.get(f"{root}/results/{rid}/final.png", timeout=60)
    if image.status_code != 200:
        raise cli.ClientError(f"HTTP {image.status_code} fetching the picture", 3)
    args.output.write_bytes(image.content)
    print(f"wrote {args.output}")
    return 0


def wait_for(link: str, url: str, interval: float, timeout: float) -> dict[str, Any]:
    """Poll until the job ends (a progress bar on stderr); rate limits are waited out."""
    deadline = time.monotonic() + timeout
    bar = tqdm(total=100, unit="%", dynamic_ncols=True, file=sys.stderr, bar_format="{l_bar}{bar}| {postfix}")
    try:
        while True:
            try:
                _, status = fetch_status(link, url)
            except cli.ClientError as err:
                if err.exit_code != 4:
                    raise
                status = {"state": "rate-limited"}
            if status.get("state") in ENDED:
                bar.update(100 - bar.n if status["state"] == "done" else 0)
                return status
            if isinstance(status.get("percent"), (int, float)):
                bar.update(max(0.0, float(status["percent"]) - bar.n))
            bar.set_postfix_str(describe(status) if status.get("state") != "rate-limited" else "rate limited")
            if time.monotonic() > deadline:
                raise cli.ClientError(f"still {status.get('state')} after {timeout:g} s", 3)
            time.sleep(interval)
    finally:
        bar.close()


@_said
def cancel_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stylize-client cancel", description="Stop a kept job with its cancel token.")
    parser.add_argument("link", help="the job's link (http://host/r/<id>) or its id (then --url)")
    parser.add_argument("--token", required=True, help="the cancel token its submission printed")
    parser.add_argument("--url", default=cli.DEFAULT_URL, help="the server for a bare id")
    args = parser.parse_args(argv)
    root, rid = cli.result_location(args.link, args.url)
    r = httpx.post(f"{root}/results/{rid}/cancel", headers={"X-Cancel-Token": args.token}, timeout=30)
    if r.status_code == 202:
        print(f"cancelling {rid}: it stops within one slice")
        return 0
    print(f"error: HTTP {r.status_code}: {cli.message_of(r)}", file=sys.stderr)
    return 2 if r.status_code < 500 else 3


# -- batches -------------------------------------------------------------------------------------------

def output_name(photo: Path, style: Path) -> str:
    return f"{photo.stem}__{style.stem}.png"


def batch_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stylize-client", description="Every photo x every style into OUTDIR; "
                                     "outputs that exist are skipped, so an interrupted batch resumes where it stopped.")
    parser.add_argument("photos", type=Path, nargs="+", metavar="photo", help="content images (or directories of them)")
    parser.add_argument("--style", type=Path, action="append", required=True, help="a style image; repeat for more")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the directory for <photo>__<style>.png")
    parser.add_argument("--url", default=cli.DEFAULT_URL, help="the front (web app) URL, TorchServe's, or the inference URL")
    parser.add_argument("--jobs", type=int, default=2, help="jobs sent at once (default 2; the front allows 4 per client)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each job")
    add_param_options(parser, cli.PARAMS)
    args = parser.parse_args(argv)
    photos = [p for path in args.photos for p in (sorted(q for q in path.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
                                                   if path.is_dir() else [path])]
    missing = [p for p in [*photos, *args.style] if not p.is_file()]
    if missing:
        print(f"error: {missing[0]}: no such file", file=sys.stderr)
        return 2
    if not 1 <= args.jobs <= 16:
        print("error: jobs: must be between 1 and 16", file=sys.stderr)
        return 2
    try:
        args.output.mkdir(parents=True, exist_ok=True)
        if not os.access(args.output, os.W_OK):
            raise OptionError("output", f"{args.output} is not writable")
    except (OSError, OptionError) as err:
        print(f"error: output: {err}", file=sys.stderr)
        return 2
    params = collect_params(args, cli.PARAMS)
    pairs = [(p, s) for p in photos for s in args.style]
    todo = [(p, s) for p, s in pairs if not (args.output / output_name(p, s)).exists()]
    skipped = len(pairs) - len(todo)
    if not todo:
        print(f"nothing to do: all {len(pairs)} outputs exist in {args.output}")
        return 0
    work: queue.Queue[tuple[Path, Path]] = queue.Queue()
    for pair in todo:
        work.put(pair)
    finished: queue.Queue[tuple[Path, Path, str | None]] = queue.Queue()

    def worker() -> None:
        while True:
            try:
                photo, style = work.get_nowait()
            except queue.Empty:
                return
            finished.put((photo, style, _one(args, photo, style, params)))

    # Daemon threads: Ctrl-C ends the process, which closes every connection, so the server drops the jobs.
    for _ in range(min(args.jobs, len(todo))):
        threading.Thread(target=worker, daemon=True).start()
    failed: list[str] = []
    bar = tqdm(total=len(todo), unit="image", dynamic_ncols=True, file=sys.stderr)
    try:
        for _ in todo:
            photo, style, error = finished.get()
            bar.update(1)
            if error is not None:
                failed.append(f"{photo.name} x {style.name}: {error}")
                bar.write(f"failed: {failed[-1]}", file=sys.stderr)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ninterrupted: {bar.n} of {len(todo)} done; run the same command again to make the rest", file=sys.stderr)
        return 130
    bar.close()
    print(f"{len(todo) - len(failed)} made, {skipped} already there, {len(failed)} failed (in {args.output})")
    return min(len(failed), MAX_FAILED_EXIT)


def _one(args: argparse.Namespace, photo: Path, style: Path, params: dict[str, Any]) -> str | None:
    """One pair, written atomically (a half-written file would be skipped by the next run); the error or None."""
    target = args.output / output_name(photo, style)
    try:
        for event in cli.stream_job(args.url, photo, [style], params, args.timeout):
            if event.get("event") == "done":
                partial = target.with_name(f".{target.name}.part")
                partial.write_bytes(cli.final_image(event, args.url, args.timeout))
                os.replace(partial, target)
                return None
    except cli.ClientError as err:
        return str(err)
    except (OSError, ValueError, KeyError) as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return "the stream ended without a result"

