"""k8s/: every overlay renders offline, validates against the Kubernetes schemas, and says what
the runtime and the worker expect (variant, threads, grace period, security, IAM).

Rendering is the real kustomize (`kubectl kustomize`, tests/unit/kustomize.py), from the kubectl
the dev extra installs. No cluster is needed or contacted.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from keda_schema import SCHEMAS as KEDA_SCHEMAS
from kustomize import build

from runtime.cpu import REQUIRES, can_run
from runtime.manifest import VARIANTS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = {"avx512-vnni": "avx512_vnni", "avx512": "avx512", "avx2": "avx2", "arm64": "arm64"}
# Kubernetes minor versions to validate against: the oldest EKS still runs, and the newest schemas.
K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
LONG_POLL_SECONDS = 20  # the worker's SQS long poll (issue 4): a SIGTERM may arrive at its start
BATCH_SIZE = 10  # messages one worker receives at once
WORKING_THROUGHPUT = 5  # tickets/s per 2-CPU worker, full profile (docs/PERFORMANCE.md: 5.4 end to end)
NFD = "feature.node.kubernetes.io/cpu-cpuid."
# runtime/cpu.py's flag names -> the node label Node Feature Discovery publishes for them.
FLAG_LABELS = {"avx2": NFD + "AVX2", "avx512f": NFD + "AVX512F", "avx512bw": NFD + "AVX512BW",
               "avx512vl": NFD + "AVX512VL", "avx512_vnni": NFD + "AVX512VNNI"}
# Nodes to schedule against: realistic CPU flag sets, including one with AVX-512F but no BW/VL.
NODES = {
    "sapphire-rapids": {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"},
    "skylake-sp": {"avx2", "avx512f", "avx512bw", "avx512vl"},
    "knights-landing": {"avx2", "avx512f"},
    "zen3": {"avx2"},
    "sandy-bridge": set(),
    "graviton3": {"aarch64"},
}


def _by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def _one(objects: list[dict], kind: str) -> dict:
    (found,) = _by_kind(objects, kind)
    return found


def _container(objects: list[dict], name: str = "worker", init: bool = False) -> dict:
    spec = _one(objects, "Deployment")["spec"]["template"]["spec"]
    (found,) = [c for c in spec["initContainers" if init else "containers"] if c["name"] == name]
    return found


def _config(objects: list[dict], name: str) -> dict[str, str]:
    (found,) = [c for c in _by_kind(objects, "ConfigMap") if c["metadata"]["name"] == name]
    return found["data"]


def _cpu(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def container_env(objects: list[dict], container: dict) -> dict[str, str]:
    """The environment the kubelet would give `container`: envFrom, then env (which wins)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_config(objects, source["configMapRef"]["name"]))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "configMapKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = _config(objects, ref["name"])[ref["key"]]
        elif "resourceFieldRef" in var["valueFrom"]:
            ref = var["valueFrom"]["resourceFieldRef"]
            owner = _container(objects, ref["containerName"])
            group, _, resource = ref["resource"].partition(".")
            assert resource == "cpu", f"{var['name']}: only CPU resource refs are resolved here"
            divisor = _cpu(ref.get("divisor", "1"))
            env[var["name"]] = str(math.ceil(_cpu(owner["resources"][group]["cpu"]) / divisor))
        else:
            raise AssertionError(f"{var['name']}: an env source this test does not resolve")
    return env


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {overlay: build(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def k8s_copy(tmp_path_factory) -> Path:
    """A copy of k8s/ to edit as docs/DEPLOY.md tells users to (HPA fallback, exclusive nodes)."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy)
    for overlay in OVERLAYS:
        kfile = copy / "overlays" / overlay / "kustomization.yaml"
        text = kfile.read_text()
        assert "  - ../../components/keda\n" in text
        hpa = copy / "overlays" / f"{overlay}-hpa"
        shutil.copytree(kfile.parent, hpa)
        (hpa / "kustomization.yaml").write_text(text.replace("components/keda", "components/hpa-cpu"))
        commented = "  # - path: exclusive-nodes.yaml\n  #   target:\n  #     kind: Deployment\n"
        if (kfile.parent / "exclusive-nodes.yaml").exists():
            assert commented in text, f"{overlay}: the opt-in lines docs/DEPLOY.md uncomments moved"
            strict = copy / "overlays" / f"{overlay}-exclusive"
            shutil.copytree(kfile.parent, strict)
            (strict / "kustomization.yaml").write_text(text.replace(commented, commented.replace("# ", "")))
    return copy


def test_every_overlay_renders_the_same_kinds(rendered):
    for overlay, objects in rendered.items():
        kinds = sorted(o["kind"] for o in objects)
        assert kinds == ["ConfigMap", "Deployment", "PodDisruptionBudget", "ScaledObject", "ServiceAccount",
                         "TriggerAuthentication"], overlay
        assert all(o["metadata"]["namespace"] == "ticket-enrich" for o in objects)
        assert not _by_kind(objects, "Secret")


def test_every_edit_docs_deploy_describes_renders(k8s_copy):
    overlays = sorted(p for p in (k8s_copy / "overlays").iterdir() if p.is_dir())
    assert len(overlays) == len(OVERLAYS) * 2 + 2  # each overlay, its HPA twin, and two exclusive
    for overlay in overlays:
        deployments = _by_kind(build(overlay), "Deployment")
        assert len(deployments) == 1, overlay.name


def test_a_settings_change_rolls_the_pods(rendered, k8s_copy, tmp_path):
    # The ConfigMap's name carries a hash of its data and the pods reference that name, so
    # editing worker.env changes the pod template and the Deployment rolls.
    objects = rendered["avx2"]
    (config,) = _by_kind(objects, "ConfigMap")
    name = config["metadata"]["name"]
    assert re.fullmatch(r"ticket-enrich-config-avx2-[a-z0-9]{10}", name), name
    worker, init = _container(objects), _container(objects, "fetch-artifacts", init=True)
    refs = {s["configMapRef"]["name"] for s in worker["envFrom"]}
    refs |= {v["valueFrom"]["configMapKeyRef"]["name"] for v in init["env"] if "configMapKeyRef" in v.get("valueFrom", {})}
    assert refs == {name}
    edited = tmp_path / "k8s"
    shutil.copytree(K8S, edited)
    env = edited / "base" / "worker.env"
    env.write_text(env.read_text().replace("TICKET_ENRICH_LOG_LEVEL=INFO", "TICKET_ENRICH_LOG_LEVEL=DEBUG"))
    (changed,) = _by_kind(build(edited / "overlays" / "avx2"), "ConfigMap")
    assert changed["data"]["TICKET_ENRICH_LOG_LEVEL"] == "DEBUG"
    assert changed["metadata"]["name"] != name


def _validate(obj: dict) -> None:
    schema = KEDA_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    if schema is not None:
        jsonschema.Draft202012Validator(schema).validate(obj)
        return
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def test_every_object_validates_against_its_schema(rendered, k8s_copy):
    variants = [*rendered.values(), *(build(k8s_copy / "overlays" / f"{o}-hpa") for o in OVERLAYS)]
    for objects in variants:
        for obj in objects:
            _validate(obj)


def test_scaled_object_behavior_is_a_valid_hpa_behavior(rendered):
    # KEDA hands this block to the HPA it creates: check it with the Kubernetes HPA schema.
    for objects in rendered.values():
        scaled = _one(objects, "ScaledObject")["spec"]
        hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "keda-hpa"},
               "spec": {"scaleTargetRef": scaled["scaleTargetRef"], "maxReplicas": scaled["maxReplicaCount"],
                        "behavior": scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]}}
        _validate(hpa)


def test_schema_check_catches_a_misspelt_field(rendered):
    deployment = json.loads(json.dumps(_one(rendered["avx2"], "Deployment")))
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 180
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)
    scaled = json.loads(json.dumps(_one(rendered["avx2"], "ScaledObject")))
    scaled["spec"]["triggers"][0]["metadata"]["queueLenght"] = "480"
    with pytest.raises(jsonschema.ValidationError):
        _validate(scaled)


def _required_expressions(pod_spec: dict) -> set[tuple]:
    terms = pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert len(terms) == 1, "one term: its expressions are ANDed"
    return {(e["key"], e["operator"], tuple(e.get("values", ()))) for e in terms[0]["matchExpressions"]}


def _node_labels(flags: set[str]) -> dict[str, str]:
    labels = {FLAG_LABELS[f]: "true" for f in flags if f in FLAG_LABELS}
    labels["kubernetes.io/arch"] = "arm64" if "aarch64" in flags else "amd64"
    return labels


def _matches(expressions, labels: dict[str, str]) -> bool:
    checks = {"In": lambda k, v: labels.get(k) in v, "NotIn": lambda k, v: labels.get(k) not in v,
              "Exists": lambda k, v: k in labels, "DoesNotExist": lambda k, v: k not in labels}
    return all(checks[op](key, values) for key, op, values in expressions)


def test_each_overlay_requires_exactly_what_its_variant_needs(rendered):
    for overlay, variant in OVERLAYS.items():
        deployment = _one(rendered[overlay], "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        arch = "arm64" if "aarch64" in REQUIRES[variant] else "amd64"
        expected = {("kubernetes.io/arch", "In", (arch,))}
        expected |= {(FLAG_LABELS[f], "In", ("true",)) for f in REQUIRES[variant] if f != "aarch64"}
        assert _required_expressions(pod) == expected, overlay
        # The variant the runtime is told, the label that selects the pods, the overlay: one name.
        assert container_env(rendered[overlay], _container(rendered[overlay]))["TICKET_ENRICH_VARIANT"] == variant
        assert deployment["spec"]["selector"]["matchLabels"]["ticket-enrich/variant"] == variant
        assert variant in VARIANTS


def test_pods_schedule_exactly_where_the_runtime_can_run_them(rendered):
    for overlay, variant in OVERLAYS.items():
        pod = _one(rendered[overlay], "Deployment")["spec"]["template"]["spec"]
        for node, flags in NODES.items():
            assert _matches(_required_expressions(pod), _node_labels(flags)) == can_run(variant, flags), (overlay, node)


def _better(variant: str) -> list[str]:
    """Variants ranked above `variant` (VARIANTS is best first) on the same architecture."""
    arm = "aarch64" in REQUIRES[variant]
    return [v for v in VARIANTS[:VARIANTS.index(variant)] if ("aarch64" in REQUIRES[v]) == arm]


# The preferences key on one label (AVX512F for avx2): CPUs with AVX-512F but without BW/VL
# (Xeon Phi) are not offered by any cloud, so the preference check leaves them out.
PREFERENCE_NODES = {name: flags for name, flags in NODES.items() if name != "knights-landing"}


def test_lesser_variants_prefer_nodes_no_better_variant_can_use(rendered, k8s_copy):
    for overlay, variant in OVERLAYS.items():
        affinity = _one(rendered[overlay], "Deployment")["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
        preferred = affinity.get("preferredDuringSchedulingIgnoredDuringExecution", [])
        better = _better(variant)
        if not better:
            assert not preferred, overlay
            assert not (K8S / "overlays" / overlay / "exclusive-nodes.yaml").exists()
            continue
        (term,) = preferred
        expressions = {(e["key"], e["operator"], ()) for e in term["preference"]["matchExpressions"]}
        for node, flags in PREFERENCE_NODES.items():
            if can_run(variant, flags):  # among nodes it can run on, it prefers those no better variant can use
                assert _matches(expressions, _node_labels(flags)) == (not any(can_run(b, flags) for b in better)), node
        # Opt-in exclusive mode: the preference becomes a requirement.
        strict = _one(build(k8s_copy / "overlays" / f"{overlay}-exclusive"), "Deployment")["spec"]["template"]["spec"]
        for node, flags in PREFERENCE_NODES.items():
            allowed = can_run(variant, flags) and not any(can_run(b, flags) for b in better)
            assert _matches(_required_expressions(strict), _node_labels(flags)) == allowed, (overlay, node)


def test_variant_selectors_are_disjoint(rendered):
    selectors = [_one(o, "Deployment")["spec"]["selector"]["matchLabels"] for o in rendered.values()]
    assert len({s["ticket-enrich/variant"] for s in selectors}) == len(OVERLAYS)
    for objects in rendered.values():
        deployment = _one(objects, "Deployment")
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert _one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector


def test_threads_equal_the_cpu_limit(rendered):
    for overlay, objects in rendered.items():
        worker = _container(objects)
        limits, requests = worker["resources"]["limits"], worker["resources"]["requests"]
        assert _cpu(limits["cpu"]).is_integer(), f"{overlay}: whole cores, or threads get throttled"
        assert requests == limits, f"{overlay}: Guaranteed QoS"
        assert int(container_env(objects, worker)["TICKET_ENRICH_THREADS"]) == _cpu(limits["cpu"])
        pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
        for init in pod["initContainers"]:
            assert init["resources"]["requests"] == init["resources"]["limits"], f"{overlay}: Guaranteed QoS"


def test_grace_period_outlasts_a_poll_a_batch_and_an_extension(rendered):
    for overlay, objects in rendered.items():
        grace = _one(objects, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        env = container_env(objects, _container(objects))
        visibility = int(env["TICKET_ENRICH_VISIBILITY_TIMEOUT"])
        extend_every = float(env["TICKET_ENRICH_VISIBILITY_EXTEND_EVERY"])
        assert 0 < extend_every < visibility, f"{overlay}: extend before the messages become visible again"
        assert grace > extend_every, overlay
        # The longest batch is bounded by the visibility timeout (it is sized to it).
        assert grace > LONG_POLL_SECONDS + visibility, overlay


def test_every_container_is_locked_down(rendered):
    for overlay, objects in rendered.items():
        pod = _one(objects, "Deployment")["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0 and pod["securityContext"]["runAsGroup"] > 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
        assert all("emptyDir" in v for v in pod["volumes"]), f"{overlay}: no hostPath or other node volumes"
        for container in pod["containers"] + pod["initContainers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (overlay, container["name"])
            assert context["readOnlyRootFilesystem"] is True, (overlay, container["name"])
            assert context.get("privileged", False) is False
            assert context["capabilities"] == {"drop": ["ALL"]}, (overlay, container["name"])
            assert context.get("runAsUser", 1) != 0
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}, "a writable /tmp"


def test_probes_and_port_follow_the_worker_contract(rendered):
    for objects in rendered.values():
        worker = _container(objects)
        port = int(container_env(objects, worker)["TICKET_ENRICH_HTTP_PORT"])
        (http,) = [p for p in worker["ports"] if p["name"] == "http"]
        assert http["containerPort"] == port
        assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert worker["startupProbe"]["httpGet"]["path"] == "/healthz"
        annotations = _one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/path"] == "/metrics"


def test_artifacts_arrive_by_init_container_not_in_the_image(rendered):
    for objects in rendered.values():
        worker, init = _container(objects), _container(objects, "fetch-artifacts", init=True)
        assert worker["image"] == init["image"]
        assert re.search(r":[\w.-]+$|@sha256:[0-9a-f]{64}$", worker["image"]) and not worker["image"].endswith(":latest")
        init_env = container_env(objects, init)
        source = init_env["ARTIFACTS_S3_URI"]
        assert re.fullmatch(r"s3://[a-z0-9.-]+/[\w./-]+", source)
        command = [arg.replace("$(ARTIFACTS_S3_URI)", source) for arg in init["command"] + init["args"]]
        assert command == ["ticket-enrich", "aws", "fetch-artifacts", "--from", source, "--to", "/models"]
        assert worker["command"] + worker["args"] == ["ticket-enrich", "worker", "--artifacts", "/models"]
        assert container_env(objects, worker)["TICKET_ENRICH_ARTIFACTS"] == "/models"
        mounts = {c["name"]: {m["mountPath"]: m for m in c["volumeMounts"]} for c in (worker, init)}
        assert mounts["worker"]["/models"]["name"] == mounts["fetch-artifacts"]["/models"]["name"]
        assert mounts["worker"]["/models"].get("readOnly") is True
        assert init_env["AWS_REGION"] == container_env(objects, worker)["AWS_REGION"]


def test_every_reference_resolves(rendered):
    for overlay, objects in rendered.items():
        deployment = _one(objects, "Deployment")
        names = {(o["kind"], o["metadata"]["name"]) for o in objects}
        assert ("ServiceAccount", deployment["spec"]["template"]["spec"]["serviceAccountName"]) in names
        scaled = _one(objects, "ScaledObject")["spec"]
        assert scaled["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        (trigger,) = scaled["triggers"]
        assert ("TriggerAuthentication", trigger["authenticationRef"]["name"]) in names
        env = container_env(objects, _container(objects))  # raises on a missing ConfigMap or key
        queue_url = env[trigger["metadata"]["queueURLFromEnv"]]
        region = re.fullmatch(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/\d{12}/ticket-processing-queue", queue_url)
        assert region, f"{overlay}: TICKET_ENRICH_QUEUE must be the queue's URL (no sqs:GetQueueUrl granted)"
        assert trigger["metadata"]["awsRegion"] == env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == region[1]
        for name in (o["metadata"]["name"] for o in objects):
            assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name


def test_label_keys_and_values_are_valid(rendered):
    value = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
    key = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
    for objects in rendered.values():
        for obj in objects:
            for k, v in obj["metadata"].get("labels", {}).items():
                assert key.fullmatch(k) and len(k.rpartition("/")[2]) <= 63, k
                assert value.fullmatch(v) and len(v) <= 63, v


def test_keda_scales_on_backlog_per_worker_in_flight_counted(rendered):
    for objects in rendered.values():
        scaled = _one(objects, "ScaledObject")["spec"]
        (trigger,) = scaled["triggers"]
        assert trigger["type"] == "aws-sqs-queue"
        assert trigger["metadata"]["scaleOnInFlight"] == "true"
        queue_length = int(trigger["metadata"]["queueLength"])
        # More than one batch in hand (or one busy worker would ask for another), and no more
        # than two minutes of backlog per worker at the working throughput.
        assert BATCH_SIZE < queue_length <= WORKING_THROUGHPUT * 120
        assert 0 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
        assert 1 <= scaled["fallback"]["replicas"] <= scaled["maxReplicaCount"]
        auth = _one(objects, "TriggerAuthentication")["spec"]["podIdentity"]
        assert auth == {"provider": "aws", "identityOwner": "keda"}


def test_hpa_fallback_replaces_keda(k8s_copy):
    for overlay in OVERLAYS:
        objects = build(k8s_copy / "overlays" / f"{overlay}-hpa")
        assert not _by_kind(objects, "ScaledObject") and not _by_kind(objects, "TriggerAuthentication")
        hpa = _one(objects, "HorizontalPodAutoscaler")["spec"]
        assert hpa["scaleTargetRef"]["name"] == _one(objects, "Deployment")["metadata"]["name"]
        assert hpa["minReplicas"] >= 1
        (metric,) = hpa["metrics"]
        assert metric["resource"]["name"] == "cpu" and 0 < metric["resource"]["target"]["averageUtilization"] < 100
