"""k8s/iam: the worker's role grants exactly the calls the pod makes, on the project's own
resources only, and trusts exactly the service accounts the overlays create.

The calls are read off the worker's source (the boto3 methods called on its s3, sqs and dynamodb
clients), so a new AWS call in the worker fails here until the policy grants it, instead of
failing in the cluster with AccessDenied.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kustomize import build

ROOT = Path(__file__).resolve().parents[2]
IAM = ROOT / "k8s" / "iam"
OVERLAYS = ("avx512-vnni", "avx512", "avx2", "arm64")
PLACEHOLDERS = {"${AWS_REGION}": "eu-west-1", "${AWS_ACCOUNT_ID}": "123456789012",
                "${OIDC_PROVIDER}": "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}

# boto3 method -> the IAM action that authorizes it.
IAM_ACTIONS = {
    ("s3", "get_object"): "s3:GetObject", ("s3", "head_object"): "s3:GetObject",
    ("s3", "download_file"): "s3:GetObject", ("s3", "put_object"): "s3:PutObject",
    ("s3", "upload_file"): "s3:PutObject", ("s3", "list_objects_v2"): "s3:ListBucket",
    ("sqs", "receive_message"): "sqs:ReceiveMessage", ("sqs", "delete_message"): "sqs:DeleteMessage",
    ("sqs", "delete_message_batch"): "sqs:DeleteMessage",
    ("sqs", "change_message_visibility"): "sqs:ChangeMessageVisibility",
    ("sqs", "change_message_visibility_batch"): "sqs:ChangeMessageVisibility",
    ("sqs", "get_queue_attributes"): "sqs:GetQueueAttributes", ("sqs", "get_queue_url"): "sqs:GetQueueUrl",
    ("dynamodb", "put_item"): "dynamodb:PutItem", ("dynamodb", "get_item"): "dynamodb:GetItem",
    ("dynamodb", "batch_get_item"): "dynamodb:BatchGetItem",
}
# Modules in worker/ that never run in the pod: `make setup/seed/status/show/redrive/reset` and the local
# emulator, run by an operator with their own credentials.
NOT_IN_POD = {"resources.py", "emulator.py", "show.py", "redrive.py"}
# Calls in pod code that the pod never makes, and why.
NOT_MADE_IN_POD = {
    "sqs:GetQueueUrl": "only for a queue given by name; the ConfigMap gives the URL (test_k8s.py checks)",
}
CLIENT_CALL = re.compile(r"\b(s3|sqs|dynamodb)\.(\w+)\(")
PAGINATOR = re.compile(r"\b(s3|sqs|dynamodb)\.get_paginator\(\s*[\"'](\w+)[\"']")


def _policy(name: str) -> dict:
    text = (IAM / name).read_text()
    assert set(re.findall(r"\$\{[^}]*\}", text)) <= set(PLACEHOLDERS), f"{name}: unknown placeholder"
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def _grants(policy: dict) -> set[tuple[str, str]]:
    pairs = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                pairs.add((action, resource))
    return pairs


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {overlay: build(ROOT / "k8s" / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def config(rendered) -> dict[str, str]:
    datas = [next(o for o in objects if o["kind"] == "ConfigMap")["data"] for objects in rendered.values()]
    assert all(d == datas[0] for d in datas), "every overlay reads the same settings"
    return datas[0]


def pod_calls() -> dict[str, set[str]]:
    """IAM action -> the worker modules whose code makes that call."""
    calls: dict[str, set[str]] = {}
    for path in sorted((ROOT / "worker").glob("*.py")):
        if path.name in NOT_IN_POD:
            continue
        text = path.read_text()
        found = {(c, m) for c, m in CLIENT_CALL.findall(text) if m != "get_paginator"} | set(PAGINATOR.findall(text))
        for client, method in found:
            assert (client, method) in IAM_ACTIONS, f"{path.name}: {client}.{method}: add its IAM action here and to the policy"
            calls.setdefault(IAM_ACTIONS[(client, method)], set()).add(path.name)
    return calls


def test_worker_policy_grants_exactly_the_calls_the_pod_makes():
    calls = pod_calls()
    assert calls, "found no AWS calls in worker/: has the client naming changed?"
    needed = set(calls) - set(NOT_MADE_IN_POD)
    granted = {action for action, _ in _grants(_policy("worker-policy.json"))}
    assert granted == needed, {"missing": needed - granted, "unused": granted - needed}


def test_worker_policy_names_only_the_project_resources(config):
    region, account = PLACEHOLDERS["${AWS_REGION}"], PLACEHOLDERS["${AWS_ACCOUNT_ID}"]
    queue = config["TICKET_ENRICH_QUEUE"].rsplit("/", 1)[1]
    artifacts_bucket, _, artifacts_prefix = config["ARTIFACTS_S3_URI"][len("s3://"):].partition("/")
    releases = artifacts_prefix.split("/")[0]
    queue_arn = f"arn:aws:sqs:{region}:{account}:{queue}"
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{config['TICKET_ENRICH_TABLE']}"
    expected = {
        ("s3:GetObject", f"arn:aws:s3:::{config['TICKET_ENRICH_RAW_BUCKET']}/*"),
        # Without ListBucket, S3 answers AccessDenied instead of NoSuchKey for an object deleted
        # after its event: the worker could not tell "gone" (reject) from "forbidden" (retry).
        ("s3:ListBucket", f"arn:aws:s3:::{config['TICKET_ENRICH_RAW_BUCKET']}"),
        ("s3:PutObject", f"arn:aws:s3:::{config['TICKET_ENRICH_ENRICHED_BUCKET']}/*"),
        ("s3:GetObject", f"arn:aws:s3:::{artifacts_bucket}/{releases}/*"),
        ("s3:ListBucket", f"arn:aws:s3:::{artifacts_bucket}"),
        *((f"sqs:{a}", queue_arn) for a in ("ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                                            "GetQueueAttributes")),
        # The dead-letter gauge (ticket_enrich_dead_letter_messages): its depth, nothing else.
        ("sqs:GetQueueAttributes", f"{queue_arn}-dlq"),
        *((f"dynamodb:{a}", table_arn) for a in ("PutItem", "GetItem", "BatchGetItem")),
    }
    policy = _policy("worker-policy.json")
    assert _grants(policy) == expected
    assert (config["TICKET_ENRICH_RAW_BUCKET"], config["TICKET_ENRICH_ENRICHED_BUCKET"], queue,
            config["TICKET_ENRICH_TABLE"]) == ("tickets-raw", "tickets-enriched", "ticket-processing-queue", "tickets")
    (listing,) = [s for s in policy["Statement"]
                  if "s3:ListBucket" in s["Action"] and s["Resource"] == [f"arn:aws:s3:::{artifacts_bucket}"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{releases}/*"]}}, "list only the releases prefix"
    assert all("Condition" not in s for s in policy["Statement"] if s is not listing)


def test_keda_reads_queue_depth_and_nothing_else(config):
    region, account = PLACEHOLDERS["${AWS_REGION}"], PLACEHOLDERS["${AWS_ACCOUNT_ID}"]
    queue = config["TICKET_ENRICH_QUEUE"].rsplit("/", 1)[1]
    assert _grants(_policy("keda-scaler-policy.json")) == {
        ("sqs:GetQueueAttributes", f"arn:aws:sqs:{region}:{account}:{queue}")}


def test_role_trusts_exactly_the_overlays_service_accounts(rendered, config):
    accounts = set()
    for objects in rendered.values():
        (sa,) = [o for o in objects if o["kind"] == "ServiceAccount"]
        accounts.add(f"system:serviceaccount:{sa['metadata']['namespace']}:{sa['metadata']['name']}")
        role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        account_id = config["TICKET_ENRICH_QUEUE"].split("/")[3]
        assert role == f"arn:aws:iam::{account_id}:role/ticket-enrich-worker", "same account as the queue"
    (statement,) = _policy("worker-trust-policy.json")["Statement"]
    provider = PLACEHOLDERS["${OIDC_PROVIDER}"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{PLACEHOLDERS['${AWS_ACCOUNT_ID}']}:oidc-provider/{provider}"}
    condition = statement["Condition"]["StringEquals"]
    assert condition[f"{provider}:aud"] == "sts.amazonaws.com"
    assert set(condition[f"{provider}:sub"]) == accounts
