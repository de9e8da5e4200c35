"""Intent, urgency and (offline) sentiment on the hand-labelled tickets in tests/data.

The labelled tickets were written independently of the examples the heads are fitted on, so
these figures estimate accuracy on tickets the classifiers have never seen. The floors below
catch regressions; the report is written to build/accuracy.json and printed.
"""

import json
from pathlib import Path

import pytest

from runtime import Enricher, RuntimeConfig
from ticket_enrich.accuracy_cmd import score

REPO = Path(__file__).resolve().parents[2]
FLOORS = {"intent": 0.80, "sentiment": 0.65, "urgency": 0.62}


@pytest.fixture(scope="module")
def scored(artifacts_dir):
    rows = [json.loads(line) for line in (REPO / "tests/data/labelled_tickets.jsonl").read_text().splitlines() if line]
    enricher = Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="offline"))
    return score(enricher, rows)


def test_accuracy_report(scored):
    report = scored
    (REPO / "build").mkdir(exist_ok=True)
    (REPO / "build" / "accuracy.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    for key, floor in FLOORS.items():
        assert report[key]["accuracy"] >= floor, (key, report[key])
