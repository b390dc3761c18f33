"""TorchServe handler: HTTP requests <-> style engine, in continuous-batching mode.

TorchServe (``continuousBatching: true`` in model-config.yaml) calls :meth:`handle` again and
again with the requests it holds for this worker; every call answers each request with one chunk
(``serving.scheduler.Board``). Whether a chunk is the last of its request travels to TorchServe through
``context.stopping_criteria``; a request whose first chunk is also its last gets a plain response.
Parsing and validation live in ``serving.request``, scheduling in ``serving.scheduler`` and its parts,
the answer forms in ``serving.forms``, the start-up speed probe in ``serving.speed``, the optimisation in
``stylize``: none of them imports TorchServe. This module only translates between TorchServe's context
and the board, and reports metrics.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import torch
from serving import capabilities, kept, memory, speed, watchdog
from serving.held import Ran
from serving.request import Limits
from serving.results import Results, ResultsSettings
from serving.scheduler import Board, Held, Incoming, SchedulerSettings
from stylize import Engine, weights
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "vgg_conv.safetensors"
REPEATED_HEADER = "x-style-repeated-fields"
# Test-only fault injection, honoured only when the worker starts with STYLE_TEST_HOOKS=1.
FAULT_HEADER = "x-style-test-fault-at"
DELETE_TOKEN_HEADER = "x-delete-token"  # DELETE /results/<id> through the front
CANCEL_TOKEN_HEADER = "x-cancel-token"  # POST /results/<id>/cancel through the front
CLIENT_HEADER = "x-real-ip"  # the client's address as the front saw it (kept-job caps per client)
BUDGET_SHARE = {"cpu": 0.6, "cuda": 0.85}  # of host RAM / GPU memory, for memory_budget_mb: auto


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
    """Gatys et al. style transfer; many jobs per worker, each advanced a slice per call."""

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
        self.settings = SchedulerSettings.from_mapping(config.get("scheduler"))
        self.slice_s, self.watchdog_s = self.settings.slice_s, self.settings.watchdog_s
        self.budget = self._memory_budget(self.settings.memory_budget_mb)
        self.batch_size = int(getattr(context, "model_yaml_config", {}).get("batchSize", 1) or 1)
        self.test_hooks = os.environ.get("STYLE_TEST_HOOKS") == "1"
        self.speed = speed.measure(self.engine)
        self.context = context
        self.results = Results(ResultsSettings.from_mapping(config.get("results")),
                               kept=kept.KeptSettings.from_mapping(config.get("kept")))
        self.board = Board(self.engine, self.limits, self.budget, slice_s=self.slice_s,
                           call_budget_s=self.settings.call_s,
                           capabilities=self.capabilities, device_free=self._device_free, report=self._report,
                           results=self.results)
        logger.info("style engine on %s, weights %s (%s), limits %s, memory budget %.0f MiB, %d jobs per worker, "
                    "slice %.2f s, %.0f pixel-iterations/s", self.device, self.weights_info.label,
                    self.weights_info.source, self.limits.as_dict(), self.budget / memory.MIB, self.batch_size,
                    self.slice_s, self.speed.pixel_iterations_per_s)
        if self.weights_info.is_random:
            logger.warning(weights.RANDOM_WARNING)
        if self.test_hooks:
            logger.warning("STYLE_TEST_HOOKS=1: test-only fault injection is enabled")
        try:
            _note_repeated_fields()
        except Exception:  # an internal TorchServe change must not take the model down
            logger.warning("could not install the repeated-field check", exc_info=True)
        watchdog.start(self.board.drop_idle, self.watchdog_s, self._after_drop, advance=self.board.advance_unattended)
        if self.results.kept is not None:
            kept.start_heartbeat(self.results.kept, lambda: list(self.board.kept_ids))
        self.initialized = True

    # -- the serving loop ------------------------------------------------------------------------

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[Any]:
        self.context = context
        incoming = [self._incoming(idx, fields, context) for idx, fields in enumerate(data)]
        chunks = self.board.step(incoming)
        criteria: list[bool | None] = []
        for idx, chunk in enumerate(chunks):
            if chunk.first:  # status and headers go out with a request's first chunk only
                context.set_response_status(chunk.status, "", idx=idx)
                context.set_response_content_type(idx, chunk.content_type)
                context.set_response_header(idx, "X-Style-Weights", self.weights_info.tag)
                for name, value in chunk.headers.items():
                    context.set_response_header(idx, name, value)
            # None: one plain response; False: more chunks follow; True: this is the last one.
            criteria.append(None if chunk.first and chunk.last else chunk.last)
        context.stopping_criteria = [(lambda _out, stop=stop: stop) for stop in criteria]
        self._gauges()
        return [chunk.body for chunk in chunks]

    def _incoming(self, idx: int, fields: dict[str, Any], context: Any) -> Incoming:
        headers = _headers(context, idx)
        fault = headers.get(FAULT_HEADER) if self.test_hooks else None
        return Incoming(request_id=str(context.request_ids[idx]), fields=fields or {}, accept=headers.get("accept"),
                        repeated=frozenset(filter(None, headers.get(REPEATED_HEADER, "").split(","))),
                        fault_at=int(fault) if fault and fault.isdigit() else None, delete_token=headers.get(DELETE_TOKEN_HEADER),
                        cancel_token=headers.get(CANCEL_TOKEN_HEADER), client=headers.get(CLIENT_HEADER))

    def _after_drop(self) -> None:
        self._free_device_cache()
        self._gauges()

    # -- what this server is ---------------------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        return capabilities.document(weights=self.weights_info, device=self.device, limits=self.limits,
                                     batch_size=self.batch_size, budget_bytes=self.budget, slice_s=self.slice_s,
                                     pixel_iterations_per_s=self.speed.pixel_iterations_per_s,
                                     style_loss_s_per_iteration=self.speed.style_loss_s_per_iteration,
                                     results=self.results.describe(),
                                     precision={"auto": self.engine.auto.mode, "reason": self.engine.auto.reason},
                                     tiling=self.engine.tiling)

    def _memory_budget(self, settings: Mapping[str, Any]) -> int:
        kind = self.device.type
        setting = os.environ.get("STYLE_MEMORY_BUDGET_MB") or settings.get(kind, "auto")
        if kind == "cuda":
            total, in_use = torch.cuda.get_device_properties(self.device).total_memory, torch.cuda.memory_allocated(self.device)
        else:
            import psutil

            total, in_use = memory.host_memory_bytes(), psutil.Process().memory_info().rss
        return memory.budget_bytes(setting, total, in_use, BUDGET_SHARE[kind])

    def _device_free(self) -> int | None:
        if self.device.type != "cuda":
            return None
        free, _ = torch.cuda.mem_get_info(self.device)
        return int(free + torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device))

    def _free_device_cache(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # -- metrics (Prometheus at :8082/metrics with model_metrics_auto_detect) ----------------------

    def _report(self, outcome: str, run: Held | None, rejected_field: str | None) -> None:
        if outcome == "completed" and run is not None and run.ran is not None:
            self._learn(run.ran, run.request.job.params.style_loss)
        try:
            if outcome == "rejected":
                self._add("StyleRejected", 1, "Count", MetricTypes.COUNTER, field=rejected_field or "?")
                return
            self._add("StyleJobs", 1, "Count", MetricTypes.COUNTER, outcome=outcome)
            if run is not None and run.started is not None:
                self._add("StyleQueueSeconds", round(run.started - run.arrived, 4), "Seconds", MetricTypes.GAUGE)
            if run is not None and outcome in ("completed", "time_budget"):
                self._add("StyleJobSeconds", round(time.monotonic() - run.arrived, 4), "Seconds", MetricTypes.GAUGE)
                self._add("StyleImagePixels", _pixels(run), "Count", MetricTypes.GAUGE)
                running_s = time.monotonic() - (run.started or run.arrived)
                self._add("StyleIterationsPerSecond", round(run.iteration / running_s, 4) if running_s > 0 else 0.0, "Count", MetricTypes.GAUGE)
        except Exception:  # metrics must never fail a job
            logger.warning("could not record metrics", exc_info=True)

    def _learn(self, ran: Ran, style_loss: str) -> None:
        """The estimates follow this server's measured speed (serving.speed.learned)."""
        try:
            self.speed = speed.learned(self.speed, ran.stages, style_loss, ran.busy_s, ran.tiled)
        except Exception:  # an estimate must never fail a job
            logger.warning("could not update the speed figure", exc_info=True)

    def _gauges(self) -> None:
        try:
            counts = self.board.counts()
            self._add("StyleRunningJobs", counts["running"], "Count", MetricTypes.GAUGE)
            self._add("StyleWaitingJobs", counts["waiting"], "Count", MetricTypes.GAUGE)
            self._add("StyleReservedMemoryMB", round(counts["reserved_bytes"] / memory.MIB), "Count", MetricTypes.GAUGE)
            self._add("StyleWeightsRandomInit", 1 if self.weights_info.is_random else 0, "Count", MetricTypes.GAUGE,
                      network=self.weights_info.network, weights=self.weights_info.tag)
        except Exception:
            logger.warning("could not record metrics", exc_info=True)

    def _add(self, name: str, value: float, unit: str, kind: MetricTypes, **dims: str) -> None:
        metrics = getattr(self.context, "metrics", None)
        if metrics is None:
            return
        from ts.metrics.dimension import Dimension

        metrics.add_metric(name, value, unit, dimensions=[Dimension(k, v) for k, v in dims.items()], metric_type=kind)


def _pixels(run: Held) -> int:
    w, h = memory.output_size(run.request.job.content_wh, run.request.job.params.size)
    return w * h


def _headers(context: Any, idx: int) -> dict[str, str]:
    """Request headers, lower-cased; TorchServe mixes per-field content-type dicts in."""
    try:
        raw = context.get_all_request_header(idx) or {}
    except (AttributeError, IndexError, TypeError):
        return {}
    return {str(k).lower(): v for k, v in raw.items() if isinstance(v, str)}
