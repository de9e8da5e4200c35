"""Intent, urgency and (offline) sentiment on the hand-labelled tickets in tests/data.

The labelled tickets were written independently of the examples the heads are fitted on, so
these figures estimate accuracy on tickets the classifiers have never seen. The floors below
catch regressions; the report is written to build/accuracy.json and printed.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from runtime import Enricher, RuntimeConfig

REPO = Path(__file__).resolve().parents[2]
FLOORS = {"intent": 0.80, "sentiment": 0.65, "urgency": 0.62}
LEVELS = ["low", "medium", "high", "critical"]


@pytest.fixture(scope="module")
def scored(artifacts_dir):
    rows = [json.loads(line) for line in (REPO / "tests/data/labelled_tickets.jsonl").read_text().splitlines() if line]
    enricher = Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="offline"))
    results = []
    for start in range(0, len(rows), 10):
        results.extend(enricher.enrich(rows[start : start + 10]))
    predicted = {
        "intent": [r.intent.label for r in results],
        "sentiment": [r.sentiment.label for r in results],
        "urgency": [r.urgency.level for r in results],
    }
    gold = {key: [row["labels"][key] for row in rows] for key in predicted}
    return gold, predicted, results


def test_accuracy_report(scored):
    gold, predicted, results = scored
    report = {}
    for key in gold:
        pairs = list(zip(gold[key], predicted[key], strict=True))
        report[key] = {
            "accuracy": round(sum(g == p for g, p in pairs) / len(pairs), 3),
            "per_label_recall": {
                label: round(sum(p == label for g, p in pairs if g == label) / max(1, gold[key].count(label)), 3)
                for label in sorted(set(gold[key]))
            },
            "top_confusions": [f"{g} -> {p}: {n}" for (g, p), n in Counter(x for x in pairs if x[0] != x[1]).most_common(5)],
        }
    report["urgency"]["within_one_level"] = round(
        sum(abs(LEVELS.index(g) - LEVELS.index(p)) <= 1 for g, p in zip(gold["urgency"], predicted["urgency"], strict=True))
        / len(results), 3)
    confident = [r for r in results if r.intent.confidence >= 0.8]
    report["intent"]["accuracy_when_confidence_ge_0.8"] = round(
        sum(r.intent.label == g for r, g in zip(results, gold["intent"], strict=True) if r.intent.confidence >= 0.8)
        / max(1, len(confident)), 3)
    report["intent"]["share_with_confidence_ge_0.8"] = round(len(confident) / len(results), 3)
    report["tickets"] = len(results)
    (REPO / "build").mkdir(exist_ok=True)
    (REPO / "build" / "accuracy.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    for key, floor in FLOORS.items():
        assert report[key]["accuracy"] >= floor, (key, report[key])
