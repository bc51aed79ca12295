"""tests/k8s_render.py renders like kustomize: its pieces on known answers everywhere, and the whole of
deploy/k8s against `kubectl kustomize` where kubectl is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.k8s_manifests import K8S, MONITORING, PRODUCTION, RELEASE
from tests.k8s_render import Obj, Unsupported, build, configmap_hash, json_patch


@pytest.mark.pure
def test_configmap_hash_is_kustomizes() -> None:
    # names printed by `kubectl kustomize` (kustomize v5.5.0) for a generator of one file f.toml
    assert configmap_hash({"metadata": {"name": "t"}, "data": {"f.toml": 'a = "x"\n'}}) == "599b895kbf"
    assert configmap_hash({"metadata": {"name": "t"}, "data": {"f.toml": 'a = "乐"\n'}}) == "tm78ff74m8"


@pytest.mark.pure
def test_json_patch_adds_replaces_and_removes() -> None:
    obj: Obj = {"spec": {"replicas": 2, "list": [1, 2]}}
    json_patch(obj, {"op": "replace", "path": "/spec/replicas", "value": 3})
    json_patch(obj, {"op": "add", "path": "/spec/list/-", "value": 9})
    json_patch(obj, {"op": "add", "path": "/spec/a~1b", "value": {}})
    json_patch(obj, {"op": "remove", "path": "/spec/list/0"})
    assert obj == {"spec": {"replicas": 3, "list": [2, 9], "a/b": {}}}
    with pytest.raises(KeyError):
        json_patch(obj, {"op": "replace", "path": "/spec/nothing", "value": 1})


@pytest.mark.pure
def test_a_feature_the_renderer_lacks_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(Unsupported, match="commonLabels"):
        build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches:\n- target: {kind: X, name: y}\n"
                                                 "  patch: 'spec: {}'\n")
    with pytest.raises(Unsupported, match="JSON 6902"):
        build(tmp_path)


def _key(obj: Obj) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed here: the pure-Python render above is "
                    "what runs; this only compares it with kustomize's own where both exist")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("directory", [PRODUCTION, RELEASE, K8S / "base", K8S / "release", MONITORING],
                         ids=["production", "production-release", "base", "release", "monitoring"])
def test_the_render_is_kubectl_kustomizes(directory: Path) -> None:
    assert KUBECTL is not None
    out = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    theirs = sorted((o for o in yaml.safe_load_all(out) if o), key=_key)
    ours = sorted(build(directory), key=_key)
    assert [_key(o) for o in ours] == [_key(o) for o in theirs]
    for mine, kustomized in zip(ours, theirs, strict=True):
        assert mine == kustomized, _key(mine)
