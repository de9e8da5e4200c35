"""The part of `kustomize build` that k8s/ uses, in Python, so the manifests render offline anywhere.

Supported: resources (files and directories), components, namespace, namePrefix/nameSuffix,
labels (with includeSelectors), patches (strategic merge, JSON 6902), images (newName, newTag,
digest), configMapGenerator (env files and literals, with kustomize's content-hash suffix),
configurations (nameReference).
Anything else in a kustomization raises, so a new field in k8s/ cannot be silently ignored.
Where a real kustomize is on the machine (`kubectl kustomize`), tests/unit/test_k8s.py checks
that both render the same objects. Order of evaluation follows kustomize: resources, then
components, then generators, then transformers (patches, namespace, prefix/suffix, labels, images);
hash suffixes and name references are settled once, at the end of the top-level build.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

KUSTOMIZATION_FIELDS = {
    "apiVersion", "kind", "resources", "components", "namespace", "namePrefix", "nameSuffix",
    "labels", "patches", "configMapGenerator", "configurations", "images",
}

# Kustomize's built-in name references for the kinds used here: (referenced kind, referrer kind, path).
BUILTIN_NAME_REFERENCES = [
    ("ConfigMap", "Deployment", "spec/template/spec/containers/envFrom/configMapRef/name"),
    ("ConfigMap", "Deployment", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
    ("ConfigMap", "Deployment", "spec/template/spec/initContainers/envFrom/configMapRef/name"),
    ("ConfigMap", "Deployment", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
    ("ConfigMap", "Deployment", "spec/template/spec/volumes/configMap/name"),
    ("ServiceAccount", "Deployment", "spec/template/spec/serviceAccountName"),
    ("Deployment", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
]

# Where `labels: includeSelectors: true` writes, besides metadata.labels: (kind, path, create).
SELECTOR_FIELDS = [
    ("Deployment", "spec/selector/matchLabels", True),
    ("Deployment", "spec/template/metadata/labels", True),
    ("Deployment", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", False),
    ("PodDisruptionBudget", "spec/selector/matchLabels", False),
]

# Strategic-merge keys of the lists patched here; every other list is replaced whole.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
    "volumeMounts": "mountPath", "ports": "containerPort",
}


class KustomizeError(ValueError):
    pass


@dataclass
class _Res:
    obj: dict
    origin_name: str  # the name as written, before prefix/suffix/hash
    needs_hash: bool = False


@dataclass
class _Acc:
    resources: list[_Res] = field(default_factory=list)
    name_refs: list[tuple[str, str, str]] = field(default_factory=lambda: list(BUILTIN_NAME_REFERENCES))


def build(path: str | Path) -> list[dict]:
    """Render the kustomization in `path` like `kustomize build path`."""
    acc = _Acc()
    _accumulate(Path(path), acc, component=False)
    for res in acc.resources:
        if res.needs_hash:
            res.obj["metadata"]["name"] += "-" + config_map_hash(res.obj)
    _fix_name_references(acc)
    return [res.obj for res in acc.resources]


def _load_kustomization(directory: Path, component: bool) -> dict:
    kfile = directory / "kustomization.yaml"
    if not kfile.is_file():
        raise KustomizeError(f"{directory} has no kustomization.yaml")
    kust = yaml.safe_load(kfile.read_text()) or {}
    unknown = set(kust) - KUSTOMIZATION_FIELDS
    if unknown:
        raise KustomizeError(f"{kfile}: unsupported fields {sorted(unknown)}; extend kustomize_lite or drop them")
    expected = "Component" if component else "Kustomization"
    if kust.get("kind", "Kustomization") != expected:
        raise KustomizeError(f"{kfile}: kind {kust.get('kind')!r}, expected {expected}")
    return kust


def _accumulate(directory: Path, acc: _Acc, component: bool) -> None:
    kust = _load_kustomization(directory, component)
    own = _Acc(name_refs=acc.name_refs) if not component else acc
    for entry in kust.get("resources", []):
        target = directory / entry
        if target.is_dir():
            sub = _Acc(name_refs=own.name_refs)
            _accumulate(target, sub, component=False)
            own.resources.extend(sub.resources)
        else:
            for doc in yaml.safe_load_all(target.read_text()):
                if doc:
                    own.resources.append(_Res(doc, doc["metadata"]["name"]))
    for entry in kust.get("components", []):
        _accumulate(directory / entry, own, component=True)
    for entry in kust.get("configurations", []):
        config = yaml.safe_load((directory / entry).read_text())
        for ref in config.get("nameReference", []):
            for spec in ref["fieldSpecs"]:
                own.name_refs.append((ref["kind"], spec["kind"], spec["path"]))
    for generator in kust.get("configMapGenerator", []):
        own.resources.append(_generate_config_map(directory, generator))
    for patch in kust.get("patches", []):
        _apply_patch(directory, patch, own.resources)
    if "namespace" in kust:
        for res in own.resources:
            res.obj["metadata"]["namespace"] = kust["namespace"]
    prefix, suffix = kust.get("namePrefix", ""), kust.get("nameSuffix", "")
    for res in own.resources:
        res.obj["metadata"]["name"] = prefix + res.obj["metadata"]["name"] + suffix
    for label_set in kust.get("labels", []):
        _apply_labels(label_set, own.resources)
    for image in kust.get("images", []):
        _set_image(image, own.resources)
    if own is not acc:
        acc.resources.extend(own.resources)


# ---- configMapGenerator ----------------------------------------------------------------------
def _parse_env_file(path: Path) -> dict[str, str]:
    data = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise KustomizeError(f"{path}: line {line!r} is not KEY=VALUE")
        data[key] = value
    return data


def _generate_config_map(directory: Path, generator: dict) -> _Res:
    unknown = set(generator) - {"name", "envs", "literals"}
    if unknown:
        raise KustomizeError(f"configMapGenerator: unsupported fields {sorted(unknown)}")
    data: dict[str, str] = {}
    for env in generator.get("envs", []):
        data.update(_parse_env_file(directory / env))
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data}
    return _Res(obj, generator["name"], needs_hash=True)


def config_map_hash(obj: dict) -> str:
    """Kustomize's name suffix: sha256 of the encoded kind and data, first 10 hex digits, re-lettered."""
    encoded = {"kind": "ConfigMap", "name": "", "data": obj.get("data", {})}
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # as Go's encoder
    digest = hashlib.sha256(text.encode()).hexdigest()
    return digest[:10].translate(str.maketrans("013ae", "ghkmt"))


# ---- patches ---------------------------------------------------------------------------------
def _apply_patch(directory: Path, patch: dict, resources: list[_Res]) -> None:
    unknown = set(patch) - {"path", "target"}
    if unknown:
        raise KustomizeError(f"patches: unsupported fields {sorted(unknown)}")
    body = yaml.safe_load((directory / patch["path"]).read_text())
    target = patch.get("target")
    if isinstance(body, list):  # JSON 6902
        if not target:
            raise KustomizeError(f"{patch['path']}: a JSON 6902 patch needs a target")
        matched = [r for r in resources if _selects(target, r.obj)]
        for res in matched:
            for op in body:
                _json6902(res.obj, op)
    else:
        target = target or {"kind": body["kind"], "name": body["metadata"]["name"]}
        matched = [r for r in resources if _selects(target, r.obj)]
        for res in matched:
            res.obj = _merge(res.obj, body)
    if not matched:
        raise KustomizeError(f"patch {patch['path']} matched no resource ({target})")


def _selects(target: dict, obj: dict) -> bool:
    unknown = set(target) - {"kind", "name"}
    if unknown:
        raise KustomizeError(f"patch target: unsupported fields {sorted(unknown)}")
    if "kind" in target and obj["kind"] != target["kind"]:
        return False
    return "name" not in target or obj["metadata"]["name"] == target["name"]


def _merge(base, patch, key: str | None = None):
    if isinstance(patch, dict) and isinstance(base, dict):
        if any(k.startswith("$") for k in patch):
            raise KustomizeError(f"strategic-merge directives are not supported: {sorted(patch)}")
        merged = dict(base)
        for k, v in patch.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return merged
    if isinstance(patch, list) and isinstance(base, list) and key in MERGE_KEYS:
        merge_key = MERGE_KEYS[key]
        merged = [copy.deepcopy(item) for item in base]
        added = []
        for item in patch:
            match = next((i for i, b in enumerate(merged) if b.get(merge_key) == item.get(merge_key)), None)
            if match is None:
                added.append(copy.deepcopy(item))
            else:
                merged[match] = _merge(merged[match], item)
        return added + merged  # kustomize puts new list items first
    return copy.deepcopy(patch)


def _json6902(obj: dict, op: dict) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
    parent = obj
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    kind = op["op"]
    if kind not in ("add", "replace", "remove"):
        raise KustomizeError(f"JSON 6902 op {kind!r} is not supported")
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if kind == "add":
            parent.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            parent[index] = copy.deepcopy(op["value"])
        else:
            del parent[index]
    elif kind == "remove":
        del parent[last]
    else:
        if kind == "replace" and last not in parent:
            raise KustomizeError(f"JSON 6902 replace: {op['path']} does not exist")
        parent[last] = copy.deepcopy(op["value"])


# ---- labels and name references --------------------------------------------------------------
def _walk(node, parts: list[str], create: bool):
    """Yield the dicts at `parts` (lists are traversed implicitly), creating them if asked."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, parts, create)
        return
    if not parts:
        yield node
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head not in node:
        if not create:
            return
        node[head] = {}
    yield from _walk(node[head], rest, create)


def _apply_labels(label_set: dict, resources: list[_Res]) -> None:
    unknown = set(label_set) - {"pairs", "includeSelectors"}
    if unknown:
        raise KustomizeError(f"labels: unsupported fields {sorted(unknown)}")
    pairs = label_set["pairs"]
    for res in resources:
        res.obj["metadata"].setdefault("labels", {}).update(pairs)
        if not label_set.get("includeSelectors"):
            continue
        for kind, path, create in SELECTOR_FIELDS:
            if res.obj["kind"] == kind:
                for target in _walk(res.obj, path.split("/"), create):
                    target.update(pairs)


def _set_image(image: dict, resources: list[_Res]) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise KustomizeError(f"images: unsupported fields {sorted(unknown)}")
    for res in resources:
        if res.obj["kind"] != "Deployment":
            continue
        for container in _walk(res.obj, "spec/template/spec/containers".split("/"), create=False):
            _retag(container, image)
        for container in _walk(res.obj, "spec/template/spec/initContainers".split("/"), create=False):
            _retag(container, image)


def _retag(container: dict, image: dict) -> None:
    ref = container["image"]
    name, tag = (ref.split("@", 1)[0], "@" + ref.split("@", 1)[1]) if "@" in ref else (ref, "")
    if not tag and ":" in name.rsplit("/", 1)[-1]:
        name, _, bare = name.rpartition(":")
        tag = ":" + bare
    if name != image["name"]:
        return
    if "digest" in image:
        tag = "@" + image["digest"]
    elif "newTag" in image:
        tag = ":" + str(image["newTag"])
    container["image"] = image.get("newName", name) + tag


def _fix_name_references(acc: _Acc) -> None:
    final: dict[tuple[str, str], str] = {}
    for res in acc.resources:
        key = (res.obj["kind"], res.origin_name)
        if key in final and final[key] != res.obj["metadata"]["name"]:
            raise KustomizeError(f"two {key[0]}s were both named {key[1]!r}: references are ambiguous")
        final[key] = res.obj["metadata"]["name"]
    for ref_kind, referrer_kind, path in acc.name_refs:
        *parents, leaf = path.split("/")
        for res in acc.resources:
            if res.obj["kind"] != referrer_kind:
                continue
            for holder in _walk(res.obj, parents, create=False):
                if isinstance(holder, dict) and holder.get(leaf) is not None:
                    if parents and parents[-1] == "scaleTargetRef" and holder.get("kind", ref_kind) != ref_kind:
                        continue
                    holder[leaf] = final.get((ref_kind, holder[leaf]), holder[leaf])
