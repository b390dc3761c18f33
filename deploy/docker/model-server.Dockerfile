# syntax=docker/dockerfile:1
# TorchServe + style_transfer.mar. Build from the repository root:
#   GPU: docker build -f deploy/docker/model-server.Dockerfile -t style-transfer/model-server:1.0-gpu .
#   CPU: docker build -f deploy/docker/model-server.Dockerfile --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t style-transfer/model-server:1.0-cpu .
# GPU and CPU images share one Debian base with Python 3.11: PyPI's torch wheels bring their own
# CUDA runtime (nvidia-* wheels) and the node's NVIDIA container runtime brings the driver, so a
# CUDA base image would only add a second copy of CUDA. BASE may name another image with Python 3.11.
ARG BASE=python:3.11-slim-bookworm

# ---- build: the model archive, with real ImageNet weights or not at all ------------------------
FROM python:3.11-slim-bookworm AS build
# Archiving needs CPU torch only; never download CUDA wheels for this stage.
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what `make archive` reads (see model-server.Dockerfile.dockerignore), plus weights/ when present.
COPY . .
# Empty: torch hub downloads vgg19-dcbb9e9d.pth now. Or a path inside the build context, e.g.
# --build-arg VGG19_WEIGHTS=weights/vgg19-dcbb9e9d.pth. strict fails the build rather than ever
# packing random-init weights into an image.
ARG VGG19_WEIGHTS=
RUN make archive PYTHON=python3.11 WEIGHTS_MODE=strict VGG19_WEIGHTS="${VGG19_WEIGHTS}" \
    && grep -q '^imagenet' model_store/style_transfer.weights.txt

# ---- runtime -----------------------------------------------------------------------------------
# hadolint ignore=DL3006
FROM ${BASE}
# Empty: PyPI's torch (CUDA). https://download.pytorch.org/whl/cpu for the smaller CPU image.
ARG TORCH_INDEX_URL=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOME=/home/model-server \
    TEMP=/tmp TMPDIR=/tmp \
    LOG_LOCATION=/home/model-server/logs METRICS_LOCATION=/home/model-server/logs \
    TORCH_HOME=/tmp/torch XDG_CACHE_HOME=/tmp/cache
# TorchServe's frontend is Java.
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
