"""The Kubernetes manifests in deploy/k8s: valid against Kubernetes' own schemas, one pool per queue.

Validation uses the official Kubernetes OpenAPI-derived JSON schemas shipped
in the pinned `kubernetes-validate` package, strictly: an unknown or
misspelt field fails, as it would with `kubectl apply --validate=strict`.
"""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from common import topology
from common.config import PROJECT_ROOT

MANIFESTS = sorted((PROJECT_ROOT / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.31.0"


def _documents():
    return [(path.name, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text())
            if doc is not None]


def _kinds(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in _documents() if doc["kind"] == kind}


def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_there_are_manifests_for_the_api_the_pools_beat_and_the_stream():
    assert {path.name for path in MANIFESTS} >= {"config.yaml", "api.yaml", "pools.yaml",
                                                 "beat.yaml", "realtime.yaml"}


@pytest.mark.parametrize("name, document", _documents(),
                         ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}"
                              for name, doc in _documents()])
def test_each_manifest_is_valid_against_the_kubernetes_schema(name, document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_is_caught():
    deployment = dict(_kinds("Deployment")["herald-api"])
    deployment["spec"] = {**deployment["spec"], "replica": 3}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_queue_of_the_topology_has_a_pool_consuming_only_it():
    consumed = {}
    for name, deployment in _kinds("Deployment").items():
        command = _container(deployment)["command"]
        if "-Q" in command:
            consumed[command[command.index("-Q") + 1]] = name
    missing = set(topology.QUEUES) - set(consumed)
    assert not missing, f"no Deployment consumes {sorted(missing)}"


def test_beat_runs_one_replica_and_is_never_rolled_out_beside_itself():
    beat = _kinds("Deployment")["herald-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_every_process_reads_the_shared_settings():
    config_maps, secrets = set(_kinds("ConfigMap")), set(_kinds("Secret"))
    for name, deployment in _kinds("Deployment").items():
        sources = _container(deployment)["envFrom"]
        assert {s["configMapRef"]["name"] for s in sources if "configMapRef" in s} <= config_maps, name
        assert {s["secretRef"]["name"] for s in sources if "secretRef" in s} <= secrets, name
        assert len(sources) == 2, name


def test_settings_name_every_node_of_the_database_and_the_broker():
    secret = _kinds("Secret")["herald-secrets"]["stringData"]
    assert secret["DATABASE_URL"].count("host=") >= 2
    assert "target_session_attrs=read-write" in secret["DATABASE_URL"]
    assert secret["BROKER_URL"].count("amqp://") >= 3
    assert _kinds("ConfigMap")["herald-config"]["data"]["QUORUM_QUEUES"] == "true"

