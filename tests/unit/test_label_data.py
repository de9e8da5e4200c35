"""The labelled data: training files are well formed, and no text we measure on was fitted on."""

import json
import re
from pathlib import Path

import pytest

from runtime.config import DATA_DIR
from runtime.fitting import read_out_of_domain, read_urgency_examples
from runtime.heads import load_taxonomy
from runtime.urgency import load_rules
from ticket_enrich.evaluate import read_labelled

REPO = Path(__file__).resolve().parents[2]
# what we measure on: the dev sets, the older labelled tickets, and any held-out set added later
MEASURED = sorted((REPO / "tests/data/dev").glob("*.jsonl")) + sorted((REPO / "tests/data/dev2").glob("*.jsonl")) + \
    [REPO / "tests/data/labelled_tickets.jsonl"] + sorted((REPO / "tests/data/heldout").glob("*.jsonl"))


def normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def training_texts() -> set[str]:
    texts = []
    for name in ("intents.json", "sentiment.json"):
        texts += load_taxonomy(DATA_DIR / name).training_set()[0]
    examples = read_urgency_examples()
    texts += examples.texts
    texts += [json.loads(line)["body"] for line in (DATA_DIR / "urgency_examples.jsonl").read_text().splitlines()]
    texts += read_out_of_domain()
    return {normal(t) for t in texts}


@pytest.mark.parametrize("path", MEASURED, ids=lambda p: str(p.relative_to(REPO / "tests/data")))
def test_no_measured_text_was_fitted_on(path):
    fitted = training_texts()
    labelled = read_labelled(path)
    shared = [t.text for t in labelled.tickets if ({normal(t.text), normal(t.body)} - {""}) & fitted]
    assert not shared, shared[:5]


def test_urgency_examples_carry_every_label_the_calibration_needs():
    examples = read_urgency_examples()
    rules = load_rules(DATA_DIR / "urgency.json")
    intents = set(load_taxonomy(DATA_DIR / "intents.json").labels)
    assert len(examples.texts) >= 400
    for row in examples.labels:
        assert row["urgency"] in rules.levels and row["intent"] in intents
        assert row["sentiment"] in {"NEGATIVE", "NEUTRAL", "POSITIVE"}
    stated = [p for p in examples.priorities if p]
    agree = sum(p == row["urgency"] for p, row in zip(examples.priorities, examples.labels, strict=True) if p)
    # the stated priority must be a hint, not the answer: it agrees about half the time, as customers' do
    assert 0.35 < agree / len(stated) < 0.7


def test_dev_sets_use_the_shipped_label_sets():
    intents = set(load_taxonomy(DATA_DIR / "intents.json").labels)
    for path in [*(REPO / "tests/data/dev").glob("*.jsonl"), *(REPO / "tests/data/dev2").glob("*.jsonl")]:
        for row in read_labelled(path).labels:
            assert row.get("intent", "billing") in intents
            assert row.get("urgency", "low") in {"low", "medium", "high", "critical"}
            assert row.get("kind", "content_free") in {"content_free", "off_topic", "non_english"}
