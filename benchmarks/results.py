"""The results JSON: one section per measurement (a stage, end to end, the process, the artifacts),
each with its engines' metrics and their ratios to the PyTorch reference of the same section.

Metric names are `<mode>.<metric>` ("b1.p50_ms", "b8.tickets_per_s") or plain ("cold_start_s",
"peak_rss_mb", "artifact_bytes"). A ratio is always "times better than PyTorch": reference/engine
for times, sizes and memory, engine/reference for rates. So `perf-check` reads every ratio the
same way: lower than the baseline's is worse.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

SCHEMA = 1
REFERENCE = "pytorch"
HIGHER_IS_BETTER = ("tickets_per_s", "tickets_per_min")
RATIO_METRICS = ("p50_ms", "p90_ms", "tickets_per_s", "load_s", "cold_start_s", "peak_rss_mb",
                 "first_rss_mb", "artifact_bytes")


def better_ratio(metric: str, value: float, reference: float) -> float | None:
    if not value or not reference:
        return None
    name = metric.rsplit(".", 1)[-1]
    return reference / value if name not in HIGHER_IS_BETTER else value / reference


def flat_metrics(engine: dict[str, Any]) -> dict[str, float]:
    """An engine's numeric metrics as `mode.metric` keys."""
    out = {}
    for key, value in engine.items():
        if isinstance(value, dict) and key not in ("check",):
            for name, number in value.items():
                if isinstance(number, (int, float)) and not isinstance(number, bool):
                    out[f"{key}.{name}"] = float(number)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def section_ratios(section: dict[str, Any]) -> dict[str, dict[str, float]]:
    engines = section.get("engines", {})
    reference = engines.get(section.get("reference", REFERENCE))
    if reference is None:
        return {}
    ref = flat_metrics(reference)
    ratios: dict[str, dict[str, float]] = {}
    for name, engine in engines.items():
        if name == section.get("reference", REFERENCE):
            continue
        row = {}
        for metric, value in flat_metrics(engine).items():
            if metric.rsplit(".", 1)[-1] in RATIO_METRICS and metric in ref:
                ratio = better_ratio(metric, value, ref[metric])
                if ratio is not None:
                    row[metric] = round(ratio, 4)
        ratios[name] = row
    return ratios


def ordered(engines: dict[str, Any]) -> list[tuple[str, Any]]:
    """Reference first, then ours, then the peers (the JSON keeps keys sorted, not in run order)."""
    rank = {"reference": 0, "ours": 1, "peer": 2}
    return sorted(engines.items(), key=lambda item: (rank.get(item[1].get("family"), 3), item[0]))


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from runtime.cpu import detect_cpu_features

    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.partition(":")[2].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.partition(":")[2].split())
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for package in ("onnxruntime", "torch", "transformers", "optimum", "ctranslate2", "fastembed", "tokenizers",
                    "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"cpu": model, "machine": platform.machine(), "features": sorted(detect_cpu_features()),
            "amx_int8": "amx_int8" in flags, "versions": versions}


class Recorder:
    """Collects the sections measured in this run; `write` merges them into the results file
    (sections not re-measured keep their previous values and timestamps)."""

    def __init__(self):
        self.sections: dict[str, dict[str, Any]] = {}
        self.provenance: dict[str, Any] = {}  # which artifacts were measured (set once they are loaded)

    def add(self, name: str, section: dict[str, Any]) -> dict[str, Any]:
        section = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "reference": REFERENCE,
                   "artifacts": self.provenance, **section}
        section["ratios"] = section_ratios(section)
        self.sections[name] = section
        return section

    def write(self, path: Path, settings: dict[str, Any]) -> dict[str, Any]:
        previous = load(path) if path.is_file() else {}
        merged = dict(previous.get("sections", {}))
        merged.update(self.sections)
        data = {"schema": SCHEMA, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
                "settings": settings, "sections": merged}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return data


def load(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path} has results schema {data.get('schema')!r}, expected {SCHEMA}: re-run the benchmark")
    return data
