"""Kubernetes manifests: every overlay renders with `kubectl kustomize`, every resource validates
against the Kubernetes schema offline, and the security/operations policy holds.

Each policy check is a function returning its violations; every check is also run on a
deliberately broken copy of the manifests, so none of them can pass vacuously.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.nginx_render import directive

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("gpu", "cpu")
# The schema version validated against (kubernetes-validate ships schemas up to its own version).
K8S_VERSION = "1.32.0"
MANAGEMENT_PORT = 8081
GPU = "nvidia.com/gpu"

Doc = dict[str, Any]


@cache
def _render(overlay: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required (it bundles kustomize)"
    result = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def manifests(overlay: str) -> list[Doc]:
    """A fresh copy each time, so tests may mutate it."""
    return [d for d in yaml.safe_load_all(_render(overlay)) if d]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]


def containers(docs: list[Doc]) -> Iterator[tuple[str, Doc, Doc]]:
    for where, spec in pod_specs(docs):
        for c in spec.get("initContainers", []) + spec["containers"]:
            yield f"{where}/{c['name']}", c, spec


# ---- policy checks: each returns a list of violations ------------------------------------------

def schema_errors(docs: list[Doc]) -> list[str]:
    errors = []
    for d in docs:
        try:
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            errors.append(f"{d['kind']}/{d['metadata'].get('name')}: {err.message}")
    return errors


def services_exposing_management(docs: list[Doc]) -> list[str]:
    bad = []
    for svc in of_kind(docs, "Service"):
        for port in svc["spec"].get("ports", []):
            if MANAGEMENT_PORT in (port.get("port"), port.get("targetPort"), port.get("nodePort")):
                bad.append(f"Service/{svc['metadata']['name']} port {port}")
    # A named targetPort could still reach 8081 if a container declared it.
    for where, c, _ in containers(docs):
        bad += [f"{where} declares containerPort {MANAGEMENT_PORT}" for p in c.get("ports", []) if p["containerPort"] == MANAGEMENT_PORT]
    return bad


def missing_resources(docs: list[Doc]) -> list[str]:
    bad = []
    for where, c, _ in containers(docs):
        res = c.get("resources", {})
        for section in ("requests", "limits"):
            bad += [f"{where}: no {section}.{key}" for key in ("cpu", "memory") if key not in res.get(section, {})]
    return bad


def missing_probes(docs: list[Doc]) -> list[str]:
    return [f"{where}: no {probe}" for where, c, _ in containers(docs) for probe in ("readinessProbe", "livenessProbe") if probe not in c]


def not_hardened(docs: list[Doc]) -> list[str]:
    bad = []
    for where, c, pod in containers(docs):
        psc, sc = pod.get("securityContext", {}), c.get("securityContext", {})
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            bad.append(f"{where}: runAsNonRoot is not set")
        if (sc.get("runAsUser", psc.get("runAsUser")) or 0) == 0:
            bad.append(f"{where}: runs as uid 0 or an unset uid")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad.append(f"{where}: root filesystem is writable")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            bad.append(f"{where}: capabilities not dropped")
        if (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            bad.append(f"{where}: no RuntimeDefault seccomp profile")
    return bad


def gpu_requests(docs: list[Doc]) -> list[str]:
    """Containers that ask for a GPU (as a limit: extended resources are requested through limits)."""
    return [where for where, c, _ in containers(docs) if int(c.get("resources", {}).get("limits", {}).get(GPU, 0)) > 0]


def model_server_policy_problems(docs: list[Doc]) -> list[str]:
    """A NetworkPolicy must select the model server and admit 8080 only from the front."""
    policies = [p for p in of_kind(docs, "NetworkPolicy") if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == "model-server"]
    if not policies:
        return ["no NetworkPolicy selects app.kubernetes.io/name=model-server"]
    bad = []
    for policy in policies:
        if "Ingress" not in policy["spec"].get("policyTypes", []):
            bad.append(f"NetworkPolicy/{policy['metadata']['name']}: does not restrict ingress")
        for rule in policy["spec"].get("ingress", []):
            ports = {p.get("port") for p in rule.get("ports", [])}
            if not rule.get("from") or not ports:
                bad.append(f"NetworkPolicy/{policy['metadata']['name']}: a rule admits any source or any port")
            if MANAGEMENT_PORT in ports:
                bad.append(f"NetworkPolicy/{policy['metadata']['name']}: admits the management port")
            if 8080 in ports and any(f.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") != "front" or "namespaceSelector" in f
                                     for f in rule.get("from", [])):
                bad.append(f"NetworkPolicy/{policy['metadata']['name']}: 8080 admitted from something other than the front")
    return bad


def hpa_problems(docs: list[Doc]) -> list[str]:
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    bad = [f"HPA/{h['metadata']['name']}: {h['apiVersion']}" for h in hpas if h["apiVersion"] != "autoscaling/v2"]
    if not any(h["spec"]["scaleTargetRef"]["name"] == "model-server" for h in hpas):
        bad.append("no HorizontalPodAutoscaler targets the model-server Deployment")
    return bad


def results_volume_problems(docs: list[Doc]) -> list[str]:
    """One ReadWriteMany claim `results`, mounted read-write in the model server at the directory its
    STYLE_RESULTS_DIR names and read-only in the front at the directory its nginx.conf serves."""
    claims = [c for c in of_kind(docs, "PersistentVolumeClaim") if c["metadata"]["name"] == "results"]
    if not claims:
        return ["no PersistentVolumeClaim named results"]
    bad = [] if claims[0]["spec"]["accessModes"] == ["ReadWriteMany"] else [f"results claim is {claims[0]['spec']['accessModes']}, not ReadWriteMany"]
    served = sorted(set(re.findall(r"alias (\S+?)/(?:\.jobs/)?\$result_id", nginx_conf(docs))))  # results and kept jobs
    for name, want_ro in (("model-server", False), ("front", True)):
        spec = one(docs, "Deployment", name)["spec"]["template"]["spec"]
        volumes = [v["name"] for v in spec.get("volumes", []) if v.get("persistentVolumeClaim", {}).get("claimName") == "results"]
        mounts = [m for m in spec["containers"][0].get("volumeMounts", []) if m["name"] in volumes]
        if len(mounts) != 1:
            bad.append(f"{name}: mounts the results claim {len(mounts)} times")
            continue
        if bool(mounts[0].get("readOnly")) != want_ro:
            bad.append(f"{name}: results mount readOnly={mounts[0].get('readOnly')}, expected {want_ro}")
        if name == "model-server":
            env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env", [])}
            if env.get("STYLE_RESULTS_DIR") != mounts[0]["mountPath"]:
                bad.append(f"model-server: STYLE_RESULTS_DIR={env.get('STYLE_RESULTS_DIR')} but the volume is at {mounts[0]['mountPath']}")
        elif served != [mounts[0]["mountPath"]]:
            bad.append(f"front: nginx serves results from {served}, the volume is at {mounts[0]['mountPath']}")
    return bad


def nginx_conf(docs: list[Doc]) -> str:
    maps = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("front-nginx")]
    assert len(maps) == 1, [d["metadata"]["name"] for d in of_kind(docs, "ConfigMap")]
    return maps[0]["data"]["nginx.conf"]


def nginx_stream_problems(conf: str) -> list[str]:
    bad = [] if directive(conf, "proxy_buffering") == ["off"] else ["proxy_buffering is not off (exactly once, in the stream location)"]
    timeouts = directive(conf, "proxy_read_timeout")
    if not any(t.endswith("s") and int(t[:-1]) >= 1800 for t in timeouts):
        bad.append(f"no proxy_read_timeout of at least 1800s: {timeouts}")
    if "1.1" not in directive(conf, "proxy_http_version"):
        bad.append("upstream is not HTTP/1.1")
    return bad


def mounted_configmaps(docs: list[Doc]) -> list[str]:
    return [v["configMap"]["name"] for _, spec in pod_specs(docs) for v in spec.get("volumes", []) if "configMap" in v]


# ---- the manifests pass ------------------------------------------------------------------------

@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


def test_kustomize_prints_yaml_with_every_kind(overlay: str) -> None:
    kinds = {d["kind"] for d in manifests(overlay)}
    assert kinds >= {"Deployment", "Service", "ConfigMap", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}, kinds


def test_every_resource_is_valid_for_the_schema(overlay: str) -> None:
    assert schema_errors(manifests(overlay)) == []


@pytest.mark.parametrize("check", [services_exposing_management, missing_resources, missing_probes, not_hardened,
                                   model_server_policy_problems, hpa_problems, results_volume_problems], ids=lambda f: f.__name__)
def test_policy(overlay: str, check: Callable[[list[Doc]], list[str]]) -> None:
    assert check(manifests(overlay)) == []


def test_gpu_overlay_requests_a_gpu_and_cpu_overlay_does_not() -> None:
    assert gpu_requests(manifests("gpu")) == ["Deployment/model-server/torchserve"]
    assert gpu_requests(manifests("cpu")) == []
    pod = one(manifests("gpu"), "Deployment", "model-server")["spec"]["template"]["spec"]
    assert any(t["key"] == GPU for t in pod["tolerations"]) and pod["nodeSelector"]
    # The device plugin picks the visible GPU; NVIDIA_VISIBLE_DEVICES=all would expose every GPU of the node.
    assert not [e for _, c, _ in containers(manifests("gpu")) for e in c.get("env", []) if e["name"] == "NVIDIA_VISIBLE_DEVICES"]


def test_overlays_pick_their_image_variant() -> None:
    for overlay in OVERLAYS:
        image = one(manifests(overlay), "Deployment", "model-server")["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith("style-transfer/model-server:") and image.endswith(f"-{overlay}"), image


def test_model_server_service_ports_and_scrape_annotations(overlay: str) -> None:
    svc = one(manifests(overlay), "Service", "model-server")
    assert sorted(p["port"] for p in svc["spec"]["ports"]) == [8080, 8082]
    annotations = svc["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "8082"


def test_model_server_waits_for_weights_and_running_jobs(overlay: str) -> None:
    pod = one(manifests(overlay), "Deployment", "model-server")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    # The handler stops a job after limits.max_time_s; pods must outlive that when terminated.
    max_time_s = yaml.safe_load((ROOT / "model-config.yaml").read_text())["handler"]["limits"]["max_time_s"]
    assert pod["terminationGracePeriodSeconds"] > max_time_s
    assert "drain" in c["lifecycle"]["preStop"]["exec"]["command"]


def test_front_mounts_the_generated_nginx_conf_with_streaming_settings(overlay: str) -> None:
    docs = manifests(overlay)
    conf = nginx_conf(docs)
    assert nginx_stream_problems(conf) == []
    assert conf == (K8S / "base" / "front" / "nginx.conf").read_text()
    assert any(name.startswith("front-nginx-") for name in mounted_configmaps(docs))


def test_ingress_does_not_buffer_and_allows_long_jobs(overlay: str) -> None:
    annotations = one(manifests(overlay), "Ingress", "style-transfer")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 1800


def _properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def _bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit.lower()]


def test_body_limits_match_torchserve() -> None:
    deployed = _properties(ROOT / "deploy" / "docker" / "config.properties")
    conf = (K8S / "base" / "front" / "nginx.conf").read_text()
    assert [_bytes(v) for v in directive(conf, "client_max_body_size")] == [int(deployed["max_request_size"])]
    ingress = one(manifests("gpu"), "Ingress", "style-transfer")["metadata"]["annotations"]
    assert _bytes(ingress["nginx.ingress.kubernetes.io/proxy-body-size"]) == int(deployed["max_request_size"])


def test_in_cluster_torchserve_config_differs_from_the_local_one_only_where_it_must() -> None:
    local = _properties(ROOT / "config.properties")
    deployed = _properties(ROOT / "deploy" / "docker" / "config.properties")
    # Addresses, paths and CORS (same origin behind nginx) differ on purpose; every limit is shared.
    expected_to_differ = {"inference_address", "metrics_address", "model_store", "allowed_urls"}
    differ = {k for k in local.keys() & deployed.keys() if local[k] != deployed[k]}
    assert differ <= expected_to_differ, {k: (local[k], deployed[k]) for k in differ - expected_to_differ}
    missing = {k for k in local.keys() - deployed.keys() if not k.startswith("cors_")}
    assert missing == set()
    assert deployed["management_address"].startswith("http://127.0.0.1:")
    assert deployed["enable_model_api"] == "false" and deployed["inference_address"] == "http://0.0.0.0:8080"


# ---- the checks can fail -----------------------------------------------------------------------

def _model_server(docs: list[Doc]) -> Doc:
    return one(docs, "Deployment", "model-server")["spec"]["template"]["spec"]["containers"][0]


def _break_schema(docs: list[Doc]) -> None:
    _model_server(docs)["resources"]["limits"]["cpu"] = ["four"]


def _expose_management(docs: list[Doc]) -> None:
    one(docs, "Service", "model-server")["spec"]["ports"].append({"name": "mgmt", "port": 8081, "targetPort": 8081})


def _drop_resources(docs: list[Doc]) -> None:
    del one(docs, "Deployment", "front")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]


def _drop_probe(docs: list[Doc]) -> None:
    del one(docs, "Deployment", "front")["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]


def _run_as_root(docs: list[Doc]) -> None:
    pod = one(docs, "Deployment", "model-server")["spec"]["template"]["spec"]
    pod["securityContext"]["runAsUser"] = 0
    pod["containers"][0]["securityContext"].pop("runAsNonRoot")
    pod["securityContext"].pop("runAsNonRoot")


def _open_model_server(docs: list[Doc]) -> None:
    one(docs, "NetworkPolicy", "model-server")["spec"]["ingress"].append({"ports": [{"port": 8080}]})


def _remove_model_server_policy(docs: list[Doc]) -> None:
    docs.remove(one(docs, "NetworkPolicy", "model-server"))


def _old_hpa(docs: list[Doc]) -> None:
    one(docs, "HorizontalPodAutoscaler", "model-server")["apiVersion"] = "autoscaling/v1"


def _results_writable_in_front(docs: list[Doc]) -> None:
    mounts = one(docs, "Deployment", "front")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    next(m for m in mounts if m["name"] == "results").pop("readOnly")


def _results_single_node(docs: list[Doc]) -> None:
    one(docs, "PersistentVolumeClaim", "results")["spec"]["accessModes"] = ["ReadWriteOnce"]


@pytest.mark.parametrize(("breaker", "check"), [
    (_results_writable_in_front, results_volume_problems),
    (_results_single_node, results_volume_problems),
    (_break_schema, schema_errors),
    (_expose_management, services_exposing_management),
    (_drop_resources, missing_resources),
    (_drop_probe, missing_probes),
    (_run_as_root, not_hardened),
    (_open_model_server, model_server_policy_problems),
    (_remove_model_server_policy, model_server_policy_problems),
    (_old_hpa, hpa_problems),
], ids=lambda f: f.__name__)
def test_each_check_catches_a_broken_manifest(breaker: Callable[[list[Doc]], None], check: Callable[[list[Doc]], list[str]]) -> None:
    docs = manifests("gpu")
    assert check(copy.deepcopy(docs)) == []
    breaker(docs)
    assert check(docs) != []


def test_gpu_check_sees_a_gpu_added_to_the_cpu_overlay() -> None:
    docs = manifests("cpu")
    _model_server(docs)["resources"]["limits"][GPU] = 1
    assert gpu_requests(docs) == ["Deployment/model-server/torchserve"]


def test_nginx_checks_catch_buffering_and_short_timeouts() -> None:
    conf = nginx_conf(manifests("gpu"))
    assert nginx_stream_problems(conf.replace("proxy_buffering off;", "proxy_buffering on;")) != []
    assert nginx_stream_problems(conf.replace("proxy_read_timeout 3600s;", "proxy_read_timeout 60s;")) != []
    # Commented-out directives do not count.
    assert nginx_stream_problems(conf.replace("proxy_buffering off;", "# proxy_buffering off;")) != []
