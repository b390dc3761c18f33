"""HTTP client for the style-transfer service: streams the snapshot sequence as it happens.

    stylize-client CONTENT STYLE [STYLE ...] --url http://127.0.0.1:8000 -o out.png \\
        [--snapshots-dir DIR] [--keep | --detach] [--keep-original] [--size 256 --iterations 200 ...every engine parameter]
    stylize-client get http://127.0.0.1:8000/r/<id> -o out.png     # a stored result, again
    stylize-client status|wait|cancel http://127.0.0.1:8000/r/<id>  # a kept job (kept.py)
    stylize-client PHOTO [PHOTO ...] --style A [--style B] -o OUTDIR # a batch (kept.py)

(also ``python -m stylize_client``). --url takes the web app's address (the nginx front), TorchServe's own (:8080) or the full inference URL
that `make serve` prints. Ctrl-C closes the connection, which makes the server drop the job (a kept job runs on).
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

import httpx
from stylize_options import OptionError, add_param_options, check_writable, collect_params, prepare_dir
from tqdm import tqdm

from . import kept
from .jobs import DEFAULT_URL, MODEL_PATH, PARAMS, RESULT_ID, STYLE_FIELDS, SWITCHES, ClientError, endpoint, final_image, form_fields, message_of, result_location, share_root, stream_job

__all__ = ["DEFAULT_URL", "INTERRUPTED", "MODEL_PATH", "PARAMS", "RESULT_ID", "STYLE_FIELDS", "ClientError", "endpoint",
           "form_fields", "main", "result_location", "share_root", "stream_job"]

INTERRUPTED = "interrupted: closed the connection, so the server drops the job"
KEPT_INTERRUPTED = "interrupted: the job runs on at the server"


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
            raise ClientError(f"HTTP {record.status_code}: {message_of(record)}", 3)
        image = httpx.get(f"{root}/results/{rid}/final.png", timeout=60)
        if image.status_code != 200:
            raise ClientError(f"HTTP {image.status_code}: {message_of(image)}", 3)
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
    commands = {"get": get_main, "status": kept.status_main, "wait": kept.wait_main, "cancel": kept.cancel_main}
    if argv[:1] and argv[0] in commands:
        return commands[argv[0]](argv[1:])
    if any(a == "--style" or a.startswith("--style=") for a in argv):
        return kept.batch_main(argv)
    parser = argparse.ArgumentParser(
        prog="stylize-client", description="Run a style-transfer job on a server and stream its snapshots.",
        epilog="Fetch a stored result again: stylize-client get LINK -o out.png (LINK: the share link a job prints, "
               "http://host/r/<id>, or its id); follow a kept job: stylize-client status|wait|cancel LINK; "
               "a batch: stylize-client PHOTOS... --style A [--style B] -o OUTDIR. Each has --help.")
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
    parser.add_argument("--keep", action="store_true", help="a kept job: it runs to its end on the server even if this "
                        "client stops (Ctrl-C, a dropped connection); follow it with status/wait, stop it with cancel")
    parser.add_argument("--detach", action="store_true", help="submit a kept job, print its link and cancel token, and exit")
    parser.add_argument("--keep-original", action="store_true", help="send the image files as they are; by default a picture "
                        "bigger than the job reads (size; a style: size x style_scale) is downscaled to that before upload")
    add_param_options(parser, PARAMS)
    add_param_options(parser.add_argument_group("result store"), SWITCHES)
    args = parser.parse_args(argv)
    keep = args.keep or args.detach
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
    params = {**collect_params(args, PARAMS), **collect_params(args, SWITCHES)}
    events = stream_job(args.url, args.content, args.styles, params, args.timeout, keep=keep,
                        style_names=args.style_name, downscale=not args.keep_original,
                        say=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        for event in events:
            if event["event"] == "plan":  # the stages the server will run; the bar counts iterations
                if event.get("kept"):
                    link = f"{share_root(args.url)}{event['kept']['url']}"
                    print(f"kept: {link}\n  follow: stylize-client wait {link} -o {args.output}\n  cancel: stylize-client cancel {link} "
                          f"--token {event['kept']['cancel_token']}", file=sys.stderr, flush=True)
                    if args.detach:
                        events.close()  # the server keeps the job; this client is done
                        return 0
                continue
            if event["event"] == "queued":  # waiting inside the worker for memory; snapshots follow
                print(f"queued: position {event.get('position')}", file=sys.stderr)
                continue
            if event["event"] not in ("snapshot", "done"):  # a newer server's event this client does not know
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
                final = final_image(event, args.url, args.timeout)
                args.output.write_bytes(final)
                if args.snapshots_dir:
                    (args.snapshots_dir / f"snapshot_{event['iteration']:05d}.png").write_bytes(final)
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
        print(f"\n{KEPT_INTERRUPTED if keep else INTERRUPTED}", file=sys.stderr)
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
