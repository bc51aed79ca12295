"""A pure-Python `kustomize build` for the few features deploy/k8s uses, so `make test` renders the
manifests on a machine without kubectl (tests/test_k8s_render.py holds it to kubectl's output where
kubectl is installed).

Supported: `resources` (files and folders), `namespace`, `images`, `configMapGenerator` (`envs`,
`files`, `literals`; `behavior: create|merge`; `options.disableNameSuffixHash`, with kustomize's
content hash and the rewriting of the references to a renamed ConfigMap in pod templates) and
`patches` holding JSON 6902 operations with a `target` of kind and name. Anything else raises
`Unsupported`: a manifest must not rely on a feature this file does not render like kustomize.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KNOWN = {"apiVersion", "kind", "resources", "namespace", "images", "configMapGenerator", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class Unsupported(ValueError):
    """A kustomization uses something this renderer does not do exactly as kustomize does."""


@dataclass
class Item:
    obj: Obj
    hashed: bool = False  # a generated ConfigMap whose final name gets the content hash
    generated: bool = False


@dataclass
class Tree:
    items: list[Item] = field(default_factory=list)


def build(directory: Path) -> list[Obj]:
    """The objects `kustomize build directory` prints (in no particular order)."""
    items = _build(directory).items
    renames: dict[str, str] = {}
    for item in items:
        if item.hashed:
            name = item.obj["metadata"]["name"]
            renames[name] = f"{name}-{configmap_hash(item.obj)}"
            item.obj["metadata"]["name"] = renames[name]
    for item in items:
        for spec in pod_specs(item.obj):
            _rename_configmap_refs(spec, renames)
    return [item.obj for item in items]


def _build(directory: Path) -> Tree:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN
    if unknown:
        raise Unsupported(f"{directory}: {sorted(unknown)}")
    tree = Tree()
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            tree.items.extend(_build(path).items)
        else:
            tree.items.extend(Item(doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    for generator in kustomization.get("configMapGenerator", []):
        _generate(directory, generator, tree)
    for patch in kustomization.get("patches", []):
        _patch(directory, patch, tree)
    if "namespace" in kustomization:
        for item in tree.items:
            if item.obj["kind"] not in CLUSTER_SCOPED:
                item.obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for item in tree.items:
            for spec in pod_specs(item.obj):
                for container in spec.get("containers", []) + spec.get("initContainers", []):
                    container["image"] = _new_image(container["image"], image)
    return tree


def _generate(directory: Path, generator: Obj, tree: Tree) -> None:
    extra = set(generator) - {"name", "envs", "files", "literals", "behavior", "options"}
    if extra or set(generator.get("options", {})) - {"disableNameSuffixHash"}:
        raise Unsupported(f"configMapGenerator {generator['name']}: {sorted(extra)}")
    data: dict[str, str] = {}
    for env in generator.get("envs", []):
        for line in (directory / env).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                data[key.strip()] = value
    for entry in generator.get("files", []):
        key, _, source = entry.rpartition("=") if "=" in entry else ("", "", entry)
        data[key or Path(source).name] = (directory / source).read_text()
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    behavior = generator.get("behavior", "create")
    hashed = not generator.get("options", {}).get("disableNameSuffixHash", False)
    if behavior == "create":
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data}
        tree.items.append(Item(obj, hashed=hashed, generated=True))
    elif behavior == "merge":
        base = next(i for i in tree.items if i.generated and i.obj["metadata"]["name"] == generator["name"])
        base.obj["data"] = {**base.obj.get("data", {}), **data}
    else:
        raise Unsupported(f"configMapGenerator behavior {behavior}")


def _patch(directory: Path, patch: Obj, tree: Tree) -> None:
    if set(patch) - {"target", "patch", "path"} or set(patch.get("target", {})) - {"kind", "name"}:
        raise Unsupported(f"patch {patch}")
    ops = yaml.safe_load(patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text())
    if not isinstance(ops, list):
        raise Unsupported("only JSON 6902 patches (a list of operations) are rendered here")
    target = patch["target"]
    matched = [i.obj for i in tree.items if i.obj["kind"] == target["kind"]
               and i.obj["metadata"]["name"] == target["name"]]
    if not matched:
        raise Unsupported(f"patch target {target} matches nothing")
    for obj in matched:
        for op in ops:
            json_patch(obj, op)


def json_patch(obj: Obj, op: Obj) -> None:
    """One RFC 6902 `add`, `replace` or `remove` operation, in place."""
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if op["op"] == "remove":
        del node[int(last) if isinstance(node, list) else last]
    elif op["op"] == "replace":
        if isinstance(node, list):
            node[int(last)] = copy.deepcopy(op["value"])
        else:
            if last not in node:
                raise KeyError(f"replace: no {op['path']}")
            node[last] = copy.deepcopy(op["value"])
    elif op["op"] == "add":
        if isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), copy.deepcopy(op["value"]))
        else:
            node[last] = copy.deepcopy(op["value"])
    else:
        raise Unsupported(f"JSON patch op {op['op']}")


def pod_specs(obj: Obj) -> list[Obj]:
    if obj.get("kind") == "Pod":
        return [obj["spec"]]
    if obj.get("kind") in POD_OWNERS:
        return [obj["spec"]["template"]["spec"]]
    if obj.get("kind") == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def _rename_configmap_refs(spec: Obj, renames: dict[str, str]) -> None:
    def rename(ref: Obj | None) -> None:
        if ref and ref.get("name") in renames:
            ref["name"] = renames[ref["name"]]

    for container in spec.get("containers", []) + spec.get("initContainers", []):
        for source in container.get("envFrom", []):
            rename(source.get("configMapRef"))
        for env in container.get("env", []):
            rename(env.get("valueFrom", {}).get("configMapKeyRef"))
    for volume in spec.get("volumes", []):
        rename(volume.get("configMap"))
        for source in volume.get("projected", {}).get("sources", []):
            rename(source.get("configMap"))


def _new_image(current: str, rule: Obj) -> str:
    name, sep, tag = current.rpartition(":") if ":" in current.rsplit("/", 1)[-1] else (current, "", "")
    if name != rule["name"]:
        return current
    return f"{rule.get('newName', name)}:{rule['newTag']}" if "newTag" in rule else \
        f"{rule.get('newName', name)}{sep}{tag}"


def configmap_hash(obj: Obj) -> str:
    """kustomize's name suffix (api/hasher): SHA-256 of Go's json.Marshal of kind, name and data, its
    first ten hex digits with 0, 1, 3, a and e swapped for letters that spell no words. kustomize 5
    hashes before the generator's name is set: the name in the hash is empty (checked against kubectl)."""
    encoded = {"data": obj.get("data", {}), "kind": "ConfigMap", "name": ""}
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))
