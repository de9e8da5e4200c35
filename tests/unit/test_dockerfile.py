"""The worker image's Dockerfile, checked without a Docker engine (none runs here): its stages,
user and entrypoint are read statically, and its build context (the COPY sources that survive
.dockerignore) is built into a wheel to prove it is enough for the base install, without torch.
"""

from __future__ import annotations

import email
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "transformers", "optimum", "optimum-onnx", "onnx"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, rest in instructions():
        if word == "FROM":
            image, _, name = rest.partition(" AS ")
            assert name, f"FROM {rest}: name every stage"
            current = found.setdefault(name.strip(), [("FROM", image.strip())])
        elif current is not None:
            current.append((word, rest))
    return found


def _copy_sources(stage: list[tuple[str, str]]) -> list[str]:
    sources = []
    for word, rest in stage:
        assert word != "ADD", "COPY only: ADD fetches URLs and unpacks archives"
        if word == "COPY" and not rest.startswith("--from"):
            *srcs, _ = shlex.split(rest)
            sources += srcs
    return sources


def _glob_regex(pattern: str) -> re.Pattern:
    out = ""
    for part in re.split(r"(\*\*/|\*\*|\*|\?|\[[^]]*\])", pattern.strip("/")):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part) or (
            part if part.startswith("[") else re.escape(part))
    return re.compile(out)


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for rule in rules:
        negate = rule.startswith("!")
        regex = _glob_regex(rule.lstrip("!"))
        if any(regex.fullmatch(c) for c in candidates):
            ignored = not negate
    return ignored


def test_two_stages_from_the_same_multi_arch_base():
    found = stages()
    assert list(found) == ["build", "run"]
    images = {stage[0][1] for stage in found.values()}
    assert len(images) == 1, "the venv is copied between stages: same Python, same path"
    (image,) = images
    assert image.startswith("python:") and "--platform" not in image, "a multi-arch official image, no pinned platform"


def test_installs_the_base_package_only():
    installs = [rest for word, rest in stages()["build"] if word == "RUN" and "pip install" in rest]
    assert installs
    for rest in installs:
        command = rest.split("&&")[0]
        targets = [t for t in shlex.split(command.split("pip install", 1)[1]) if not t.startswith("-")]
        assert targets == ["."], f"pip install {targets}: the base install `.`, never an extra like .[export]"


def test_runs_as_non_root_with_the_worker_contract():
    run = stages()["run"]
    users = [rest for word, rest in run if word == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) != 0, users
    assert ("ENTRYPOINT", '["ticket-enrich"]') in run
    assert ("CMD", '["worker", "--artifacts", "/models"]') in run
    assert all(rest.startswith("--from=build") for word, rest in run if word == "COPY"), "run copies only the venv"


def test_no_artifacts_reach_the_image():
    for stage in stages().values():
        for source in _copy_sources(stage):
            assert not re.search(r"artifacts|\.onnx|manifest\.json|models|checkpoints|export", source), source
    for path in ("artifacts/manifest.json", "artifacts/minilm/model.onnx", "runtime/data/stray.onnx",
                 "build/test-artifacts/manifest.json", ".venv/bin/python", "export/cli.py", "tests/conftest.py",
                 "runtime/__pycache__/cpu.cpython-311.pyc", "k8s/base/deployment.yaml"):
        assert dockerignored(path), path
    for path in ("pyproject.toml", "runtime/cpu.py", "runtime/data/urgency.json", "worker/cli.py",
                 "ticket_schema/ticket.py", "ticket_enrich/cli.py"):
        assert not dockerignored(path), path


def test_the_build_context_installs_without_torch(tmp_path):
    context = tmp_path / "context"
    for source in _copy_sources(stages()["build"]):
        for path in sorted(ROOT.glob(source.rstrip("/"))):
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                relative = file.relative_to(ROOT).as_posix()
                if not dockerignored(relative):
                    (context / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, context / relative)
    # What `pip install .` in the build stage does first: build the project's wheel from the context.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheel"), str(context)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packages = {name.split("/")[0] for name in archive.namelist() if "/" in name and ".dist-info" not in name}
        metadata = email.message_from_bytes(archive.read(next(n for n in archive.namelist()
                                                              if n.endswith(".dist-info/METADATA"))))
        entry_points = archive.read(next(n for n in archive.namelist() if n.endswith("entry_points.txt"))).decode()
    assert packages == {"runtime", "worker", "ticket_schema", "ticket_enrich"}
    assert "ticket-enrich = ticket_enrich.cli:main" in entry_points
    base = [req for req in metadata.get_all("Requires-Dist") if "extra ==" not in req]
    names = {re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower() for req in base}
    assert names and not names & HEAVY, names
