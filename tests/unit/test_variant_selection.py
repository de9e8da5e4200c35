import pytest

from runtime.cpu import detect_cpu_features, select_variant
from runtime.errors import VariantUnavailable

ALL = ("avx512_vnni", "avx512", "avx2", "arm64", "fp32")
VNNI_HOST = {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"}
AVX2_HOST = {"avx2"}


def test_best_variant_for_each_cpu():
    assert select_variant(VNNI_HOST, ALL) == "avx512_vnni"
    assert select_variant(VNNI_HOST - {"avx512_vnni"}, ALL) == "avx512"
    assert select_variant(AVX2_HOST, ALL) == "avx2"
    assert select_variant({"aarch64"}, ALL) == "arm64"
    assert select_variant(set(), ALL) == "fp32"


def test_only_what_the_manifest_has():
    assert select_variant(VNNI_HOST, ("avx2", "fp32")) == "avx2"
    assert select_variant(VNNI_HOST, ("fp32",)) == "fp32"
    assert select_variant({"aarch64"}, ("avx2", "fp32")) == "fp32"


def test_override_is_honoured_when_possible():
    assert select_variant(VNNI_HOST, ALL, override="avx2") == "avx2"
    assert select_variant(VNNI_HOST, ALL, override="fp32") == "fp32"


@pytest.mark.parametrize(
    ("features", "available", "override", "message"),
    [
        (AVX2_HOST, ALL, "avx512_vnni", "lacks avx512_vnni"),
        (VNNI_HOST, ALL, "arm64", "lacks aarch64"),
        (VNNI_HOST, ("fp32", "avx2"), "avx512", "only have"),
        (VNNI_HOST, ALL, "sse9", "unknown variant"),
    ],
)
def test_override_that_cannot_be_honoured_raises(features, available, override, message):
    with pytest.raises(VariantUnavailable, match=message):
        select_variant(features, available, override=override)


def test_detects_flags_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse avx2 avx512f avx512bw avx512vl avx512_vnni amx_int8\n")
    assert detect_cpu_features(cpuinfo, machine="x86_64") == frozenset(VNNI_HOST)
    assert detect_cpu_features(cpuinfo, machine="aarch64") == frozenset({"aarch64"})
    assert detect_cpu_features(tmp_path / "missing", machine="x86_64") == frozenset()
