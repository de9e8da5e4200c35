"""Which CPU variant to serve: detect features, pick the best the manifest has.

`select_variant` is a small pure function; the environment override it honours is loud: a
variant this CPU cannot run raises instead of silently falling back.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from pathlib import Path

from runtime.errors import VariantUnavailable
from runtime.manifest import VARIANTS

# What each variant's int8 kernels need from the CPU.
REQUIRES: dict[str, frozenset[str]] = {
    "avx512_vnni": frozenset({"avx512f", "avx512bw", "avx512vl", "avx512_vnni"}),
    "avx512": frozenset({"avx512f", "avx512bw", "avx512vl"}),
    "avx2": frozenset({"avx2"}),
    "arm64": frozenset({"aarch64"}),
    "fp32": frozenset(),
}


def detect_cpu_features(cpuinfo: str | Path = "/proc/cpuinfo", machine: str | None = None) -> frozenset[str]:
    """CPU flags relevant to variant choice, from /proc/cpuinfo (x86-64) or the machine name."""
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64"):
        return frozenset({"aarch64"})
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return frozenset(flags & set().union(*REQUIRES.values()))
    return frozenset()


def can_run(variant: str, features: Iterable[str]) -> bool:
    return REQUIRES[variant] <= set(features)


def select_variant(features: Iterable[str], available: Iterable[str], override: str | None = None) -> str:
    """The best variant in `available` this CPU can run; `override` forces one or raises."""
    features, available = frozenset(features), tuple(available)
    if override:
        if override not in REQUIRES:
            raise VariantUnavailable(f"unknown variant {override!r}; valid variants: {', '.join(VARIANTS)}")
        if override not in available:
            raise VariantUnavailable(
                f"variant {override!r} was forced but the artifacts only have {', '.join(available)}"
            )
        if not can_run(override, features):
            missing = ", ".join(sorted(REQUIRES[override] - features))
            raise VariantUnavailable(f"variant {override!r} was forced but this CPU lacks {missing}")
        return override
    for variant in VARIANTS:
        if variant in available and can_run(variant, features):
            return variant
    raise VariantUnavailable(f"none of the variants {', '.join(available)} can run on this CPU")
