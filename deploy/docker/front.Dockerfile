# syntax=docker/dockerfile:1
# nginx serving frontend/ and proxying the inference API to the model-server Service.
# Build from the repository root: docker build -f deploy/docker/front.Dockerfile -t style-transfer/front:1.0 .
# The unprivileged variant runs as uid 101 and listens on 8080; pin it by digest in production.
# NODE_BASE / NGINX_BASE may name other images with npm / an unprivileged nginx (uid 101,
# /etc/nginx/mime.types, /usr/share/nginx/html); `make images` uses local Debian ones (deploy/podman.py).
ARG NODE_BASE=node:20-alpine
ARG NGINX_BASE=nginxinc/nginx-unprivileged:1.27-alpine

# The app's browser libraries, exactly as pinned in frontend/package-lock.json (what `make install` does).
# hadolint ignore=DL3006
FROM ${NODE_BASE} AS vendor
WORKDIR /src
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && mkdir vendor && cp node_modules/gifenc/dist/gifenc.esm.js node_modules/gifenc/LICENSE.md vendor/

# hadolint ignore=DL3006
FROM ${NGINX_BASE}
# The same file the Kubernetes ConfigMap is generated from (and the proxy test runs).
COPY deploy/k8s/base/front/nginx.conf /etc/nginx/nginx.conf
COPY frontend/ /usr/share/nginx/html/
COPY --from=vendor /src/vendor/ /usr/share/nginx/html/vendor/
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
# Skip the image's entrypoint scripts: they rewrite conf.d/ files this nginx.conf does not include,
# and cannot on a read-only root filesystem.
ENTRYPOINT []
CMD ["nginx", "-g", "daemon off;"]
