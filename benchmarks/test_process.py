"""Cold start, peak memory and artifact bytes, side by side with PyTorch and CTranslate2.

Cold start: from just before the parent spawns a fresh Python process to the first enriched ticket
in it (interpreter start, imports, loading the three models, hash checks, one ticket), warm page
cache. Peak RSS: that process's high-water mark (VmHWM) after the first ticket and after a batch
of ten.
Runs are interleaved across engines; the median of `process_repeats` runs is reported.

Select with -k: cold_start, artifact_bytes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.engines import ct2_peer, optimum_peer
from benchmarks.inputs import word_count
from benchmarks.models import ROLES
from benchmarks.settings import REPO
from benchmarks.timing import load_average, rotated

COLD_START_TARGET_S = 1.0
PEAK_RSS_TARGET_MB = 500


def spawn(kind: str, config: dict, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "benchmarks.child", kind, json.dumps(config)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{kind} child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"cold_start_s": out["first"] - started, "first_rss_mb": out["first_rss_mb"],
            "peak_rss_mb": out["peak_rss_mb"], "batch_s": out["batch_s"],
            "phases": {"spawn_s": out["entered"] - started, "import_s": out["imported"] - out["entered"],
                       "load_s": out["loaded"] - out["imported"], "first_s": out["first"] - out["loaded"]},
            "torch_imported": out["torch_imported"], "variant": out.get("variant")}


def median_row(runs: list[dict]) -> dict:
    row = {key: round(statistics.median(r[key] for r in runs), 3)
           for key in ("cold_start_s", "first_rss_mb", "peak_rss_mb", "batch_s")}
    row["phases"] = {key: round(statistics.median(r["phases"][key] for r in runs), 3) for key in runs[0]["phases"]}
    row["runs"] = [round(r["cold_start_s"], 3) for r in runs]
    row["torch_imported"] = any(r["torch_imported"] for r in runs)
    if runs[0].get("variant"):
        row["variant"] = runs[0]["variant"]
    return row


def test_cold_start_and_memory(models, settings, tickets, recorder):
    by_length = sorted(tickets, key=lambda t: word_count(t["body"]))
    config = {"artifacts": str(models.root), "threads": settings.threads, "new_tokens": settings.summary_new_tokens,
              "checkpoints": {role: str(models.checkpoint(role)) for role in ROLES},
              "ct2": {role: str(ct2_peer.prepare(models, role)) for role in ROLES},
              "first": by_length[len(by_length) // 2], "batch": tickets[: settings.e2e_batch]}
    kinds = ["pytorch", "ours", "ours-worker", "ct2"]
    details = {"pytorch": "transformers eager fp32, three models",
               "ours": "runtime only: Enricher.from_artifacts (best variant, hashes verified) + enrich",
               "ours-worker": "ours + the worker's imports (boto3, pydantic) and the ticket schema check",
               "ct2": "CTranslate2 int8, three models, tokenizers"}
    before = load_average()
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for index in range(settings.process_repeats):
        for kind in rotated(kinds, index):
            runs[kind].append(spawn(kind, config, settings.threads))
    engines = {kind: {"family": "reference" if kind == "pytorch" else "ours" if kind.startswith("ours") else "peer",
                      "detail": details[kind], **median_row(runs[kind])} for kind in kinds}
    recorder.add("process", {"load_avg": {"before": before, "after": load_average()},
                             "repeats": settings.process_repeats, "threads": settings.threads,
                             "targets": {"cold_start_s": COLD_START_TARGET_S, "peak_rss_mb": PEAK_RSS_TARGET_MB},
                             "engines": engines})
    assert not engines["ours"]["torch_imported"], "the runtime process imported torch"


def files_bytes(paths) -> int:
    return sum(Path(p).stat().st_size for p in paths)


def test_artifact_bytes(models, recorder):
    engines: dict[str, dict] = {}
    checkpoints = {role: models.checkpoint(role) for role in ROLES}
    engines["pytorch"] = {"family": "reference", "detail": "checkpoint weights + tokenizer.json",
                          "per_model_bytes": {r: files_bytes(list(c.glob("*.safetensors")) + [c / "tokenizer.json"])
                                              for r, c in checkpoints.items()}}
    for variant in models.variants():
        per = {}
        for role in ROLES:
            entry = models.entry(role)
            files = entry.variants[variant.name].files
            per[role] = sum(f.size for f in files.values()) + entry.tokenizer.size
        engines[f"ours-{variant.name}"] = {"family": "ours", "detail": variant.label, "per_model_bytes": per}
    for precision in ("fp32", "int8"):
        per = {}
        for role in ROLES:
            folder = optimum_peer.prepare(models, role, precision)
            names = [optimum_peer.file_name(n, precision) for n in optimum_peer.FILES[role]]
            per[role] = files_bytes([folder / n for n in names] + [folder / "tokenizer.json"])
        engines[f"optimum-{precision}"] = {"family": "peer", "detail": "ONNX files the ORTModel loads",
                                           "per_model_bytes": per}
    engines["ct2-int8"] = {"family": "peer", "detail": "model.bin + vocabularies + tokenizer.json",
                           "per_model_bytes": {r: files_bytes(p for p in ct2_peer.prepare(models, r).iterdir()
                                                              if p.name != "peer.json" and p.suffix != ".npz")
                                               + (files_bytes([ct2_peer.folder(models, r) / "head.npz"])
                                                  if r == "sentiment" else 0)
                                               for r in ROLES}}
    for row in engines.values():
        row["artifact_bytes"] = sum(row["per_model_bytes"].values())
    everything = sum(f.size for f in models.manifest.all_files())
    recorder.add("artifacts", {"engines": engines, "artifacts_dir_bytes": everything,
                               "variants": {v.name: list(v.aliases) for v in models.variants()}})
    assert engines[f"ours-{models.best_int8().name}"]["artifact_bytes"] < engines["pytorch"]["artifact_bytes"]
