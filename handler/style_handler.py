"""TorchServe handler: HTTP request <-> style engine. Thin on purpose: parsing and validation live
in ``stylize.request``, the optimisation in ``stylize.engine``."""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch
from stylize import Engine, images, records, request, weights
from stylize.request import Limits, RequestError
from ts.handler_utils.utils import send_intermediate_predict_response
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "vgg19_conv.safetensors"
NDJSON = "application/x-ndjson"
REPEATED_HEADER = "x-style-repeated-fields"


def _note_repeated_fields() -> None:
    """TorchServe keeps only the last multipart field of a repeated name. Wrap its request
    decoding so the handler can refuse repeats instead of silently dropping an image."""
    from ts.service import Service

    original = Service.retrieve_data_for_inference
    if getattr(original, "_notes_repeats", False):
        return

    def retrieve(batch: Any) -> Any:
        headers, input_batch, req_id_map = original(batch)
        try:  # runs outside the handler: it must never raise, or the worker dies
            for request_batch, processor in zip(batch or [], headers, strict=False):
                names = [p.get("name") for p in request_batch.get("parameters", [])]
                repeated = sorted({str(n) for n in names if names.count(n) > 1})
                if repeated:
                    processor._request_header[REPEATED_HEADER] = ",".join(repeated)
        except Exception:
            logger.warning("repeated-field check failed", exc_info=True)
        return headers, input_batch, req_id_map

    retrieve._notes_repeats = True  # type: ignore[attr-defined]
    Service.retrieve_data_for_inference = staticmethod(retrieve)


class StyleTransferHandler(BaseHandler):
    """Gatys et al. style transfer; one request = one optimisation, streamed as NDJSON if asked."""

    def initialize(self, context: Any) -> None:
        props = context.system_properties
        config = (getattr(context, "model_yaml_config", None) or {}).get("handler", {}) or {}
        gpu_id = props.get("gpu_id")
        use_cuda = torch.cuda.is_available() and gpu_id is not None
        self.device = torch.device(f"cuda:{gpu_id}") if use_cuda else torch.device("cpu")
        if not use_cuda and config.get("torch_threads"):
            torch.set_num_threads(int(config["torch_threads"]))
        path = os.path.join(props.get("model_dir", "."), config.get("weights_file", WEIGHTS_FILE))
        state, self.weights_info = weights.load(path)
        self.engine = Engine(state, self.weights_info, self.device)
        self.limits = Limits.from_mapping(config.get("limits"))
        logger.info("style engine on %s, weights %s (%s), limits %s", self.device, self.weights_info.provenance,
                    self.weights_info.source, self.limits.as_dict())
        if self.weights_info.is_random:
            logger.warning(weights.RANDOM_WARNING)
        try:
            _note_repeated_fields()
        except Exception:  # an internal TorchServe change must not take the model down
            logger.warning("could not install the repeated-field check", exc_info=True)
        self.context = context
        self.initialized = True

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[Any]:
        return [self._one(idx, fields, context) for idx, fields in enumerate(data)]

    # -- one request ---------------------------------------------------------------------------

    def _one(self, idx: int, fields: dict[str, Any], context: Any) -> Any:
        started = time.monotonic()
        headers = _headers(context, idx)
        repeated = frozenset(filter(None, headers.get(REPEATED_HEADER, "").split(",")))
        try:
            job = request.parse(fields, headers.get("accept"), self.limits, repeated)
        except (RequestError, images.ImageError) as err:
            status = getattr(err, "status", 400)
            body = err.body() if isinstance(err, RequestError) else {"code": 400, "type": "InvalidInput", "message": str(err)}
            self._count(context, "StyleRejected", field=getattr(err, "field", "?"))
            return self._reply(context, idx, status, "application/json", json.dumps(body))
        parsed_s = time.monotonic() - started
        context.set_response_header(idx, "X-Style-Weights", self.weights_info.provenance)
        if job.response == "stream":
            return self._stream(idx, job, context, started, parsed_s)
        return self._whole(idx, job, context, started, parsed_s)

    def _whole(self, idx: int, job: request.Job, context: Any, started: float, parsed_s: float) -> Any:
        encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-encoder")
        pending: list[Future[dict[str, Any]]] = []
        try:
            final = None
            for snap in self.engine.run(job.content, job.styles, job.params):
                if snap.final:
                    final = snap
                elif job.response == "json":  # encode JPEGs beside the optimisation, not in its way
                    pending.append(encoder.submit(records.snapshot_record, snap))
            assert final is not None
            png = images.encode(final.image, records.FINAL_FORMAT)
            kept = [future.result() for future in pending]
        except Exception:
            logger.exception("style transfer failed")
            return self._reply(context, idx, 500, "application/json",
                               json.dumps({"code": 500, "type": "InternalServerError", "message": "style transfer failed; see the server log"}))
        finally:
            encoder.shutdown(wait=True)
        timings = self._timings(started, parsed_s, final)
        self._record(context, job, final, timings)
        if job.response == "png":
            return self._reply(context, idx, 200, "image/png", png)
        done = records.done_record(final, png, job.params, timings)
        return self._reply(context, idx, 200, "application/json", json.dumps({**done, "snapshots": kept}))

    def _stream(self, idx: int, job: request.Job, context: Any, started: float, parsed_s: float) -> Any:
        """Send each snapshot as one NDJSON line the moment it exists. Encoding and sending run on
        a helper thread, in order, so the optimisation never waits for JPEG encoding or the socket."""
        context.set_response_content_type(idx, NDJSON)
        req_map = {idx: context.request_ids[idx]}
        sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-sender")
        pending: list[Future[None]] = []

        def send(snap: Any) -> None:
            line = json.dumps(records.snapshot_record(snap)) + "\n"
            send_intermediate_predict_response({idx: line}, req_map, "Intermediate Prediction success", 200, context)

        try:
            final = None
            for snap in self.engine.run(job.content, job.styles, job.params):
                if snap.final:
                    final = snap
                else:
                    pending.append(sender.submit(send, snap))
            for future in pending:
                future.result()
            assert final is not None
            png = images.encode(final.image, records.FINAL_FORMAT)
        except Exception as exc:
            logger.exception("style transfer failed while streaming")
            # The 200 status went out with the first line; the error travels in the stream.
            message = "style transfer failed; see the server log" if not isinstance(exc, OSError) else "connection to the frontend failed"
            return json.dumps(records.error_record(message)) + "\n"
        finally:
            sender.shutdown(wait=True)
        timings = self._timings(started, parsed_s, final)
        self._record(context, job, final, timings)
        return json.dumps(records.done_record(final, png, job.params, timings)) + "\n"

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _reply(context: Any, idx: int, status: int, content_type: str, body: Any) -> Any:
        context.set_response_status(status, "", idx=idx)
        context.set_response_content_type(idx, content_type)
        return body

    @staticmethod
    def _timings(started: float, parsed_s: float, final: Any) -> dict[str, float]:
        total = time.monotonic() - started
        return {"decode_s": parsed_s, "optimise_s": final.elapsed_s, "total_s": total,
                "iterations_per_s": final.iteration / final.elapsed_s if final.elapsed_s > 0 else 0.0}

    def _record(self, context: Any, job: request.Job, final: Any, timings: dict[str, float]) -> None:
        """Custom metrics (Prometheus at :8082/metrics with model_metrics_auto_detect)."""
        metrics = getattr(context, "metrics", None)
        if metrics is None:
            return
        try:
            w, h = final.size
            metrics.add_metric("StyleJobSeconds", round(timings["total_s"], 4), "Seconds", metric_type=MetricTypes.GAUGE)
            metrics.add_metric("StyleIterationsPerSecond", round(timings["iterations_per_s"], 4), "Count", metric_type=MetricTypes.GAUGE)
            metrics.add_metric("StyleImagePixels", w * h, "Count", metric_type=MetricTypes.GAUGE)
            metrics.add_metric("StyleWeightsRandomInit", 1 if self.weights_info.is_random else 0, "Count", metric_type=MetricTypes.GAUGE)
            self._count(context, "StyleJobs", outcome=final.stopped or "completed")
        except Exception:  # metrics must never fail a job
            logger.warning("could not record metrics", exc_info=True)

    @staticmethod
    def _count(context: Any, name: str, **dims: str) -> None:
        metrics = getattr(context, "metrics", None)
        if metrics is None:
            return
        try:
            from ts.metrics.dimension import Dimension

            metrics.add_metric(name, 1, "Count", dimensions=[Dimension(k, v) for k, v in dims.items()],
                               metric_type=MetricTypes.COUNTER)
        except Exception:
            logger.warning("could not record metric %s", name, exc_info=True)


def _headers(context: Any, idx: int) -> dict[str, str]:
    """Request headers, lower-cased; TorchServe mixes per-field content-type dicts in."""
    try:
        raw = context.get_all_request_header(idx) or {}
    except (AttributeError, IndexError, TypeError):
        return {}
    return {str(k).lower(): v for k, v in raw.items() if isinstance(v, str)}
