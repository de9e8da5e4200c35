"""The one place that builds an onnxruntime InferenceSession.

Thread counts come from the container's CPU quota (cgroup `cpu.max`, or v1's cfs files) and
the process's CPU affinity, not from the host's core count, which onnxruntime would use.
No other module touches `onnxruntime.SessionOptions`.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from runtime.errors import RuntimeArtifactError


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_cpu_limit(root: str | Path = "/sys/fs/cgroup") -> float | None:
    """CPUs the cgroup may use (quota / period), or None when unlimited or unknown."""
    root = Path(root)
    v2 = _read(root / "cpu.max")  # "max 100000" or "150000 100000"
    if v2:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            return int(quota) / int(period)
        return None
    quota_v1 = _read(root / "cpu" / "cpu.cfs_quota_us") or _read(root / "cpu.cfs_quota_us")
    period_v1 = _read(root / "cpu" / "cpu.cfs_period_us") or _read(root / "cpu.cfs_period_us")
    if quota_v1 and period_v1 and int(quota_v1) > 0:
        return int(quota_v1) / int(period_v1)
    return None


def available_cpus(cgroup_root: str | Path = "/sys/fs/cgroup", affinity: set[int] | None = None) -> int:
    """Threads worth running: the CPU quota rounded up, capped by the CPUs we may run on."""
    if affinity is None:
        affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    cpus = max(1, len(affinity))
    limit = cgroup_cpu_limit(cgroup_root)
    if limit is not None:
        cpus = min(cpus, max(1, math.ceil(limit)))
    return cpus


@dataclass(frozen=True)
class SessionSettings:
    threads: int
    # The CPU arena keeps the largest buffers it ever handed out; with ticket lengths varying
    # every batch it grows toward the worst case. Memory patterns only help fixed shapes.
    cpu_arena: bool = False
    mem_pattern: bool = False
    optimization: str = "all"  # "disable" | "basic" | "extended" | "all"
    # Build time only: write the graph as optimized at `optimization` to this path.
    save_optimized_to: str | None = None
    # Profiling only (benchmarks/op_profile.py): onnxruntime's per-node trace, files with this prefix.
    profile_prefix: str | None = None
    # onnxruntime 1.32's CPU SkipLayerNormalization is ~5x slower than the Add + LayerNormalization
    # it replaces (measured [10, 300, 1024]: 10.6 vs 2.0 ms; [8, 128, 768]: 2.6 vs 0.5 ms).
    disabled_optimizers: tuple[str, ...] = ("SkipLayerNormFusion",)
    # Idle pool threads spin waiting for work. Off: on a shared host a spinning thread holds a core
    # that the thread it waits for needs. Measured on 2 shared cores (load average 4-6), 2
    # threads, interleaved with CTranslate2 int8: one ticket's summary 1.60x CTranslate2's time
    # spinning, 0.89x not; at batch 10, 1.00x and 0.65x. In a container with a CPU quota a spinning
    # thread also burns the quota.
    spinning: bool = False


_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def make_session(path: str | Path, settings: SessionSettings) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = settings.cpu_arena
    options.enable_mem_pattern = settings.mem_pattern
    options.graph_optimization_level = _LEVELS[settings.optimization]
    options.log_severity_level = 3
    if settings.save_optimized_to:
        options.optimized_model_filepath = str(settings.save_optimized_to)
    if settings.profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = settings.profile_prefix
    spin = settings.spinning and settings.threads > 1  # with one thread there is nobody to wake
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                    disabled_optimizers=list(settings.disabled_optimizers))
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/NoSuchFile types
        raise RuntimeArtifactError(f"onnxruntime cannot load {path}: {exc}") from exc


def release_free_memory() -> None:
    """Hand the C heap's free memory back to the system (glibc `malloc_trim`; elsewhere nothing).

    glibc keeps what onnxruntime frees between runs (and raises its mmap threshold as buffers
    come and go), so a process that ran a large batch stays as large as that batch. Measured on
    the three full-size models: 75 MB handed back after a batch of 10, ~2 ms a call. Called after
    loading and after each stage's runs (and the summary's encoder pass), so that a stage starts
    from the models alone: peak RSS over a batch of 10, 603 -> ~500 MB."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes

    try:  # the C library this process already runs on (no library search: that spawns ldconfig)
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    return trim


def make_sessions(paths: list[str | Path], settings: SessionSettings) -> list[ort.InferenceSession]:
    """Several sessions, built side by side: onnxruntime optimizes and prepacks a graph without
    holding the GIL, so on two cores the summary's three graphs load in about half the time."""
    if len(paths) < 2:
        return [make_session(path, settings) for path in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(paths), thread_name_prefix="session") as pool:
        return list(pool.map(lambda path: make_session(path, settings), paths))
