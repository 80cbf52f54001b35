"""deploy/: every rendering (base, dev, production) is valid Kubernetes 1.30, strictly and offline,
and keeps the settings operations.md asks for: probes, rollout, security, graceful shutdown,
scaling, disruption budget, network policy.
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.cli import parser
from app.settings import Settings
from tests.deploy.kustomize import Manifest, kubectl, load_documents, pod_specs, render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RENDERINGS = {"base": DEPLOY / "base", "dev": DEPLOY / "overlays" / "dev",
              "production": DEPLOY / "overlays" / "production"}
KUBERNETES = "1.30.0"
NAME = "viewing-time-service"
SECRET_TEMPLATE = DEPLOY / "base" / "secret.example.yaml"
INGRESS_EXAMPLE = DEPLOY / "base" / "ingress.example.yaml"
CNPG_EXAMPLE = DEPLOY / "examples" / "cloudnativepg.yaml"
# Secret keys that are not settings themselves but are mapped onto one in the pod spec.
MAPPED_KEYS = {"DATABASE_DIRECT_URL"}
Rendering = tuple[str, list[Manifest]]


@pytest.fixture(params=sorted(RENDERINGS), scope="module")
def rendering(request: pytest.FixtureRequest) -> Rendering:
    return request.param, render(RENDERINGS[request.param])


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind
             and (name is None or m["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if pod_specs(m)]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod.get("initContainers", []) + pod["containers"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in match.items())


# --- schemas ---------------------------------------------------------------------------------

def test_every_rendered_manifest_is_valid_kubernetes_1_30(rendering: Rendering) -> None:
    name, manifests = rendering
    assert {m["kind"] for m in manifests} >= {
        "Deployment", "Service", "ConfigMap", "ServiceAccount", "Job",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}
    for m in manifests:
        kubernetes_validate.validate(m, KUBERNETES, strict=True)


def _patch_files() -> set[Path]:
    patches = set()
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        for patch in yaml.safe_load(kustomization.read_text()).get("patches", []):
            if "path" in patch:
                patches.add((kustomization.parent / patch["path"]).resolve())
    return patches


# Custom resources of an operator (the CloudNativePG example): the validator has no schema for
# them; test_the_cloudnativepg_example_… checks what the service relies on instead.
OPERATOR_API_GROUPS = ("postgresql.cnpg.io/",)


def test_every_other_yaml_under_deploy_is_a_valid_manifest() -> None:
    """Whatever is not a kustomization or a patch (e.g. the Secret template) is validated too."""
    files = [p for p in DEPLOY.rglob("*.y*ml")
             if p.name != "kustomization.yaml" and p.resolve() not in _patch_files()]
    assert {SECRET_TEMPLATE, INGRESS_EXAMPLE, CNPG_EXAMPLE} <= set(files)
    validated = 0
    for path in files:
        for m in load_documents(path):
            if not m["apiVersion"].startswith(OPERATOR_API_GROUPS):
                kubernetes_validate.validate(m, KUBERNETES, strict=True)
                validated += 1
    assert validated >= 2


def test_the_validator_is_strict_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("the schema validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    deployment = one(render(RENDERINGS["base"]), "Deployment")
    kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["paht"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError, match="paht"):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_rendering_uses_the_real_kustomize() -> None:
    version = subprocess.run([kubectl(), "version", "--client", "-o", "json"], check=True,
                             capture_output=True, text=True, timeout=60).stdout
    assert '"kustomizeVersion"' in version


# --- the Deployment --------------------------------------------------------------------------

def test_the_hpa_owns_the_replica_count(rendering: Rendering) -> None:
    """No `replicas` on the Deployment: an apply would reset what the HPA scaled to."""
    name, manifests = rendering
    deployment = one(manifests, "Deployment", NAME)
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    hpa = one(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": NAME}
    replicas = hpa["spec"]["minReplicas"]
    assert replicas == {"base": 2, "dev": 1, "production": 3}[name]
    assert hpa["spec"]["maxReplicas"] > replicas
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"

    pdb = one(manifests, "PodDisruptionBudget")
    assert selects(pdb["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable", 0) < replicas


def test_probes(rendering: Rendering) -> None:
    _, manifests = rendering
    pod = one(manifests, "Deployment", NAME)["spec"]["template"]["spec"]
    [api] = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"),
                        ("startupProbe", "/healthz")):
        assert api[probe]["httpGet"]["path"] == path, probe
        assert api[probe]["httpGet"]["port"] in ports, probe
    # The container listens where the probes and the Service look.
    args = parser().parse_args(api["args"])
    assert args.command == "serve" and args.host == "0.0.0.0" and args.port == ports["http"]
    assert args.workers == 1  # the drain period needs a single worker (app/shutdown.py)


def test_graceful_shutdown_fits_the_grace_period(rendering: Rendering) -> None:
    _, manifests = rendering
    pod = one(manifests, "Deployment", NAME)["spec"]["template"]["spec"]
    [api] = pod["containers"]
    command = api["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pause = int(command[1])
    assert pause >= 3  # long enough for endpoint removal to reach kube-proxy and the ingress
    graceful = int(re.search(r"timeout_graceful_shutdown=(\d+)",
                             (ROOT / "app" / "cli.py").read_text()).group(1))
    pool_close = 10  # HotPool.close waits at most 10 s
    assert pod["terminationGracePeriodSeconds"] >= pause + graceful + pool_close


def test_security_context_resources_and_tmp(rendering: Rendering) -> None:
    _, manifests = rendering
    for workload in workloads(manifests):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        for pod in pod_specs(workload):
            assert pod["automountServiceAccountToken"] is False, where
            assert pod["serviceAccountName"] == NAME, where
            assert pod["securityContext"]["runAsNonRoot"] is True, where
            assert pod["securityContext"]["runAsUser"] > 0, where
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
            for c in containers(pod):
                sc = c["securityContext"]
                assert sc["readOnlyRootFilesystem"] is True, where
                assert sc["allowPrivilegeEscalation"] is False, where
                assert sc["runAsNonRoot"] is True, where
                assert sc.get("privileged", False) is False, where
                assert sc["capabilities"] == {"drop": ["ALL"]}, where
                assert any(m["mountPath"] == "/tmp" and m["name"] in tmp
                           for m in c["volumeMounts"]), where
                for kind in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{where} {kind}"


def test_images_are_pinned_and_the_same_for_job_and_deployment(rendering: Rendering) -> None:
    name, manifests = rendering
    images = {c["image"] for w in workloads(manifests) for pod in pod_specs(w)
              for c in containers(pod)}
    assert len(images) == 1, images  # the migration runs the release it migrates for
    [image] = images
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
    assert tag and tag != "latest", image
    if name == "production":
        assert "/" in image and tag != "dev", image
    if name == "dev":
        assert tag == "dev"


# --- configuration ---------------------------------------------------------------------------

def _secret_template() -> Manifest:
    [secret] = load_documents(SECRET_TEMPLATE)
    return secret


def test_env_comes_from_the_configmap_and_the_secret(rendering: Rendering) -> None:
    _, manifests = rendering
    config = one(manifests, "ConfigMap", NAME)
    secret = _secret_template()
    settings = {name.upper() for name in Settings.model_fields}
    assert set(config["data"]) <= settings, set(config["data"]) - settings
    assert set(secret["stringData"]) <= settings | MAPPED_KEYS
    assert {"DATABASE_URL", "JWT_SECRET"} <= set(secret["stringData"])
    for workload in workloads(manifests):
        for pod in pod_specs(workload):
            for c in containers(pod):
                sources = {(k, v["name"]) for s in c["envFrom"] for k, v in s.items()}
                assert sources == {("configMapRef", NAME),
                                   ("secretRef", secret["metadata"]["name"])}
                for env in c.get("env", []):
                    assert env["name"] in settings
                    ref = env["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == NAME and ref["key"] in secret["stringData"]


def test_the_secret_is_a_template_and_never_applied(rendering: Rendering) -> None:
    _, manifests = rendering
    assert not [m for m in manifests if m["kind"] == "Secret"]
    for key, value in _secret_template()["stringData"].items():
        assert re.search(r"REPLACE|PASSWORD|USER", value), f"{key} looks like a real value"


def test_production_runs_behind_a_transaction_mode_pooler() -> None:
    config = one(render(RENDERINGS["production"]), "ConfigMap", NAME)
    assert config["data"]["DB_STATEMENT_CACHE_SIZE"] == "0"


def test_the_migration_job_runs_before_the_rollout(rendering: Rendering) -> None:
    _, manifests = rendering
    job = one(manifests, "Job")
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    assert parser().parse_args(migrate["args"]).command == "migrate"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    deployment = one(manifests, "Deployment", NAME)
    # Not selected by the Service or the PDB: a migration pod is not an API replica.
    assert not selects(one(manifests, "Service")["spec"]["selector"],
                       job["spec"]["template"]["metadata"]["labels"])
    assert job["spec"]["template"]["metadata"]["labels"] != \
        deployment["spec"]["template"]["metadata"]["labels"]


def test_overlays_set_their_namespace(rendering: Rendering) -> None:
    name, manifests = rendering
    namespaces = {m["metadata"].get("namespace") for m in manifests}
    expected = {"base": None, "dev": "viewing-time-dev", "production": "viewing-time"}[name]
    assert namespaces == {expected}


# --- traffic ---------------------------------------------------------------------------------

def test_the_service_reaches_the_api_port(rendering: Rendering) -> None:
    _, manifests = rendering
    service = one(manifests, "Service")
    pod = one(manifests, "Deployment", NAME)["spec"]["template"]
    assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
    port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names


def test_network_policy(rendering: Rendering) -> None:
    _, manifests = rendering
    policy = one(manifests, "NetworkPolicy")["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    for workload in workloads(manifests):  # the API and the migration Job
        assert selects(policy["podSelector"], workload["spec"]["template"]["metadata"]["labels"])

    sources = {}
    for rule in policy["ingress"]:
        assert rule.get("from") and rule.get("ports"), "a rule without from/ports admits everyone"
        [peer] = rule["from"]
        assert set(peer) == {"namespaceSelector"}
        namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        sources[namespace] = {(p["protocol"], p["port"]) for p in rule["ports"]}
    assert sources == {"ingress-nginx": {("TCP", "http")}, "monitoring": {("TCP", "http")}}

    egress_ports = set()
    for rule in policy["egress"]:
        assert rule.get("to") and rule.get("ports"), "an egress rule without to/ports allows all"
        egress_ports |= {(p["protocol"], p["port"]) for p in rule["ports"]}
    assert egress_ports == {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6432),
                            ("TCP", 443)}
    [webhooks] = [r for r in policy["egress"] if r["ports"] == [{"protocol": "TCP", "port": 443}]]
    blocks = {peer["ipBlock"]["cidr"]: set(peer["ipBlock"]["except"]) for peer in webhooks["to"]}
    assert blocks == {"0.0.0.0/0": {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                    "169.254.0.0/16", "127.0.0.0/8", "100.64.0.0/10"},
                      "::/0": {"fc00::/7", "fe80::/10", "::1/128"}}


def test_the_ingress_example_routes_only_the_api() -> None:
    [ingress] = load_documents(INGRESS_EXAMPLE)
    service = one(render(RENDERINGS["base"]), "Service", NAME)
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/api/", "Prefix")
    assert path["backend"]["service"] == {"name": NAME, "port": {"name": "http"}}
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


# --- the documented order (deploy/README.md, "Deploying, in order") ---------------------------

def test_the_documented_apply_order_takes_every_manifest_once(rendering: Rendering) -> None:
    _, manifests = rendering
    readme = (DEPLOY / "README.md").read_text()
    steps = {"-l '!app.kubernetes.io/component'": lambda c: c is None,
             "-l app.kubernetes.io/component=migration": lambda c: c == "migration",
             "-l app.kubernetes.io/component=api": lambda c: c == "api"}
    groups: dict[str, list[str]] = {}
    for selector, picks in steps.items():
        assert f"kubectl apply -k $O {selector}" in readme, selector
        groups[selector] = [m["kind"] for m in manifests if picks(
            m["metadata"].get("labels", {}).get("app.kubernetes.io/component"))]
    assert sum(len(g) for g in groups.values()) == len(manifests)  # each exactly once
    first, migration, api = groups.values()
    assert {"ConfigMap", "ServiceAccount"} <= set(first)  # what the Job needs, before the Job
    assert migration == ["Job"]
    assert "Deployment" in api


# --- the CloudNativePG example (deploy/README.md, "High availability on CloudNativePG") -------


def test_the_cloudnativepg_example_waits_for_a_synchronous_standby_and_pools_the_primary() -> None:
    cluster, pooler = load_documents(CNPG_EXAMPLE)
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    synchronous = cluster["spec"]["postgresql"]["synchronous"]
    assert synchronous["dataDurability"] == "required"
    assert 1 <= synchronous["number"] < cluster["spec"]["instances"]  # a standby to spare
    assert pooler["kind"] == "Pooler" and pooler["spec"]["type"] == "rw"
    assert pooler["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert pooler["spec"]["pgbouncer"]["poolMode"] == "transaction"


def test_the_cloudnativepg_urls_in_the_readme_name_the_example_services() -> None:
    from app.dburl import parse

    readme = (DEPLOY / "README.md").read_text()
    name = load_documents(CNPG_EXAMPLE)[0]["metadata"]["name"]
    direct = re.search(r"`(postgresql://vts:…@[^`]*,[^`]*)`", readme)
    assert direct is not None
    url = parse(direct.group(1).replace("…", "secret"))
    assert [h.host for h in url.hosts] == [f"{name}-rw.database", f"{name}-r.database"]
    assert url.with_default_attrs("read-write").attrs() == "read-write"
    assert f"@{name}-pooler-rw.database:5432/" in readme and f"@{name}-ro.database:5432/" in readme
