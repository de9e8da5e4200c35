"""The regression gate itself (no models): ratios are read as "times better than PyTorch", only our
engines are gated, and a fall of more than 15% fails while 14% passes."""

from __future__ import annotations

import json

from benchmarks.check import compare, main
from benchmarks.results import SCHEMA, section_ratios


def results(ours_p50: float, peer_p50: float, ours_tps: float, rss: float) -> dict:
    section = {"reference": "pytorch", "engines": {
        "pytorch": {"family": "reference", "b1": {"p50_ms": 100.0}, "b8": {"tickets_per_s": 10.0}},
        "ours-avx512_vnni": {"family": "ours", "b1": {"p50_ms": ours_p50}, "b8": {"tickets_per_s": ours_tps}},
        "optimum-int8": {"family": "peer", "b1": {"p50_ms": peer_p50}, "b8": {"tickets_per_s": 20.0}},
    }}
    process = {"reference": "pytorch", "engines": {"pytorch": {"family": "reference", "peak_rss_mb": 1000.0},
                                                   "ours": {"family": "ours", "peak_rss_mb": rss}}}
    sections = {"embed": section, "process": process}
    for value in sections.values():
        value["ratios"] = section_ratios(value)
    return {"schema": SCHEMA, "sections": sections}


def test_ratios_read_as_times_better_than_pytorch():
    ratios = results(25.0, 50.0, 40.0, 250.0)["sections"]
    assert ratios["embed"]["ratios"]["ours-avx512_vnni"]["b1.p50_ms"] == 4.0
    assert ratios["embed"]["ratios"]["ours-avx512_vnni"]["b8.tickets_per_s"] == 4.0
    assert ratios["process"]["ratios"]["ours"]["peak_rss_mb"] == 4.0


def test_only_our_engines_are_gated_and_the_tolerance_is_15_percent(tmp_path, capsys):
    baseline = results(25.0, 50.0, 40.0, 250.0)
    slower_peer = results(25.0, 500.0, 40.0, 250.0)
    compared, _ = compare(baseline, slower_peer)
    assert {c.engine for c in compared} == {"ours-avx512_vnni", "ours"}
    assert not any(c.regressed(0.15) for c in compared)

    paths = {}
    for name, data in {"baseline": baseline, "ok": results(29.0, 50.0, 35.0, 290.0),  # -14%
                       "bad": results(30.0, 50.0, 40.0, 250.0)}.items():  # p50 ratio 4.0 -> 3.33: -17%
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    assert main(["--baseline", str(paths["baseline"]), "--latest", str(paths["ok"])]) == 0
    assert main(["--baseline", str(paths["baseline"]), "--latest", str(paths["bad"])]) == 1
    assert "REGRESSED" in capsys.readouterr().out


def test_both_end_to_end_sections_are_gated_and_cannot_go_unmeasured(tmp_path, capsys):
    """The equal-work and the default-settings sections: a fall fails either, and one the baseline
    has but the latest results lack fails too (it would otherwise pass unseen)."""
    def with_end_to_end(default_tps: float, sections: tuple[str, ...] = ("end_to_end", "end_to_end_default")) -> dict:
        data = results(25.0, 50.0, 40.0, 250.0)
        for name in sections:
            tps = default_tps if name == "end_to_end_default" else 40.0
            section = {"reference": "pytorch", "engines": {
                "pytorch": {"family": "reference", "b10": {"tickets_per_s": 10.0}},
                "ours-avx512_vnni": {"family": "ours", "b10": {"tickets_per_s": tps}}}}
            section["ratios"] = section_ratios(section)
            data["sections"][name] = section
        return data

    paths = {}
    for name, data in {"baseline": with_end_to_end(40.0), "slower_default": with_end_to_end(30.0),
                       "no_default": with_end_to_end(40.0, ("end_to_end",)), "same": with_end_to_end(40.0)}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    compared, _ = compare(with_end_to_end(40.0), with_end_to_end(30.0))
    assert {c.section for c in compared if c.regressed(0.15)} == {"end_to_end_default"}
    assert main(["--baseline", str(paths["baseline"]), "--latest", str(paths["same"])]) == 0
    assert main(["--baseline", str(paths["baseline"]), "--latest", str(paths["slower_default"])]) == 1
    assert main(["--baseline", str(paths["baseline"]), "--latest", str(paths["no_default"])]) == 1
    assert "end_to_end_default: in the baseline, not in the latest results" in capsys.readouterr().err
