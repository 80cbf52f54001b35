"""Just enough kustomize, in Python, to render deploy/ offline.

Supported, because deploy/ uses it: `resources` (files and kustomization directories),
`namespace`, `images`, `replicas` and `patches` (strategic-merge patches from a file or inline,
with or without a target; JSON 6902 patches with a target). Anything else in a kustomization
raises, so a feature added to deploy/ without support here fails the tests instead of being
ignored. tests/deploy/test_manifests.py compares the result with `kubectl kustomize` where
that is installed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
# Strategic-merge keys of the lists deploy/ patches (from the Kubernetes API's patchMergeKey).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
              "volumes": "name", "volumeMounts": "name", "env": "name", "envFrom": None,
              "ports": "containerPort", "imagePullSecrets": "name",
              "topologySpreadConstraints": "topologyKey", "tolerations": None}


class KustomizeError(Exception):
    pass


def load_documents(path: Path) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def render(directory: Path) -> list[Manifest]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")

    manifests: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        manifests += render(path) if path.is_dir() else load_documents(path)
    _check_unique(manifests, directory)

    for patch in kustomization.get("patches", []):
        _apply_patch(manifests, patch, directory)
    for replica in kustomization.get("replicas", []):
        _set_replicas(manifests, replica)
    for image in kustomization.get("images", []):
        _set_image(manifests, image)
    if "namespace" in kustomization:
        for m in manifests:
            if m["kind"] not in CLUSTER_SCOPED:
                m.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    return manifests


def _key(m: Manifest) -> tuple[str, str]:
    return m["kind"], m["metadata"]["name"]


def _check_unique(manifests: list[Manifest], directory: Path) -> None:
    keys = [_key(m) for m in manifests]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise KustomizeError(f"{directory}: duplicate resources {sorted(duplicates)}")


# --- patches -------------------------------------------------------------------------------

def _apply_patch(manifests: list[Manifest], spec: dict[str, Any], directory: Path) -> None:
    if "path" in spec:
        body = yaml.safe_load((directory / spec["path"]).read_text())
    else:
        body = yaml.safe_load(spec["patch"])
    if isinstance(body, list):  # JSON 6902
        if "target" not in spec:
            raise KustomizeError(f"{directory}: a JSON 6902 patch needs a target")
        targets = _select(manifests, spec["target"])
        for m in targets:
            for op in body:
                _json_patch(m, op)
        return
    target = spec.get("target") or {"kind": body["kind"], "name": body["metadata"]["name"]}
    targets = _select(manifests, target)
    for m in targets:
        merged = strategic_merge(m, body)
        m.clear()
        m.update(merged)


def _select(manifests: list[Manifest], target: dict[str, str]) -> list[Manifest]:
    def matches(m: Manifest) -> bool:
        group, _, version = m["apiVersion"].rpartition("/")
        return (target.get("kind", m["kind"]) == m["kind"]
                and target.get("name", m["metadata"]["name"]) == m["metadata"]["name"]
                and target.get("group", group) == group
                and target.get("version", version) == version)

    found = [m for m in manifests if matches(m)]
    if not found:
        raise KustomizeError(f"patch target {target} matches no resource")
    return found


def strategic_merge(base: Any, patch: Any, field: str | None = None) -> Any:
    """Maps merge key by key (null deletes); listed lists merge by their key; others replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and MERGE_KEYS.get(field or ""):
        key = MERGE_KEYS[field or ""]
        merged_list = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old.get(key) == item.get(key)),
                         None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _json_patch(m: Manifest, op: dict[str, Any]) -> None:
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node: Any = m
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    kind = op["op"]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if kind == "add":
            node.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[index] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del node[index]
        else:
            raise KustomizeError(f"unsupported JSON patch op {kind}")
        return
    if kind in ("add", "replace"):
        if kind == "replace" and last not in node:
            raise KustomizeError(f"replace of a missing path {op['path']}")
        node[last] = copy.deepcopy(op["value"])
    elif kind == "remove":
        del node[last]
    else:
        raise KustomizeError(f"unsupported JSON patch op {kind}")


# --- replicas and images -------------------------------------------------------------------

def _set_replicas(manifests: list[Manifest], replica: dict[str, Any]) -> None:
    found = [m for m in manifests
             if m["kind"] in SCALABLE and m["metadata"]["name"] == replica["name"]]
    if not found:
        raise KustomizeError(f"replicas: no workload named {replica['name']}")
    for m in found:
        m["spec"]["replicas"] = replica["count"]


def pod_specs(m: Manifest) -> list[dict[str, Any]]:
    spec = m.get("spec", {})
    if m["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    if m["kind"] == "Pod":
        return [spec]
    template = spec.get("template", {}).get("spec")
    return [template] if template else []


def _image_name(image: str) -> str:
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _set_image(manifests: list[Manifest], entry: dict[str, str]) -> None:
    for m in manifests:
        for pod in pod_specs(m):
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                if _image_name(container["image"]) != entry["name"]:
                    continue
                name = entry.get("newName", entry["name"])
                current = container["image"][len(_image_name(container["image"])):]
                if "digest" in entry:
                    container["image"] = f"{name}@{entry['digest']}"
                elif "newTag" in entry:
                    container["image"] = f"{name}:{entry['newTag']}"
                else:
                    container["image"] = f"{name}{current}"
