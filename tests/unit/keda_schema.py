"""JSON schemas for the two KEDA kinds k8s/ uses (keda.sh/v1alpha1), written here from KEDA's
documented API (ScaledObject, TriggerAuthentication, the aws-sqs-queue trigger and the aws
pod-identity provider, KEDA 2.13+), because kubernetes-validate ships only the core kinds.

Strict on purpose: an unknown or misspelt field fails, as it would be ignored by the cluster.
`advanced.horizontalPodAutoscalerConfig.behavior` is the Kubernetes HPA v2 behavior, which
test_k8s.py checks against the real Kubernetes schema instead of restating it here.
"""

from __future__ import annotations

_INT_STRING = {"type": "string", "pattern": r"^[0-9]+$"}
_BOOL_STRING = {"type": "string", "enum": ["true", "false"]}
_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253}

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _NAME,
        "namespace": _NAME,
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}

# The aws-sqs-queue trigger's metadata: every value is a string.
AWS_SQS_QUEUE_METADATA = {
    "type": "object",
    "properties": {
        "queueURL": {"type": "string", "pattern": r"^https://sqs\.[a-z0-9-]+\.amazonaws\.com/[0-9]{12}/[A-Za-z0-9_-]+$"},
        "queueURLFromEnv": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        "queueLength": _INT_STRING,
        "activationQueueLength": _INT_STRING,
        "awsRegion": {"type": "string", "pattern": r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"},
        "awsEndpoint": {"type": "string"},
        "scaleOnInFlight": _BOOL_STRING,
        "scaleOnDelayed": _BOOL_STRING,
    },
    "required": ["awsRegion"],
    "oneOf": [{"required": ["queueURL"]}, {"required": ["queueURLFromEnv"]}],
    "additionalProperties": False,
}

SCALED_OBJECT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": _NAME,
                        "envSourceContainerName": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {
                    "type": "object",
                    "required": ["failureThreshold", "replicas"],
                    "properties": {
                        "failureThreshold": {"type": "integer", "minimum": 1},
                        "replicas": {"type": "integer", "minimum": 0},
                        "behavior": {"enum": ["static", "currentReplicas", "currentReplicasIfHigher",
                                              "currentReplicasIfLower"]},
                    },
                    "additionalProperties": False,
                },
                "advanced": {
                    "type": "object",
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}},
                            "additionalProperties": False,
                        },
                    },
                    "additionalProperties": False,
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": _NAME,
                                               "kind": {"enum": ["TriggerAuthentication",
                                                                 "ClusterTriggerAuthentication"]}},
                                "additionalProperties": False,
                            },
                        },
                        "additionalProperties": False,
                        "if": {"properties": {"type": {"const": "aws-sqs-queue"}}},
                        "then": {"properties": {"metadata": AWS_SQS_QUEUE_METADATA}},
                    },
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

TRIGGER_AUTHENTICATION = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "podIdentity": {
                    "type": "object",
                    "required": ["provider"],
                    "properties": {
                        "provider": {"enum": ["none", "azure-workload", "gcp", "aws", "aws-eks"]},
                        "roleArn": {"type": "string", "pattern": r"^arn:aws:iam::[0-9]{12}:role/.+$"},
                        "identityOwner": {"enum": ["keda", "workload"]},
                        "identityId": {"type": "string"},
                    },
                    # roleArn and identityOwner are mutually exclusive (KEDA's aws provider docs).
                    "not": {"required": ["roleArn", "identityOwner"]},
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

SCHEMAS = {("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
           ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION}
