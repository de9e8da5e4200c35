import json

import pytest

from runtime.config import DATA_DIR
from runtime.errors import RuntimeArtifactError
from runtime.urgency import load_rules


@pytest.fixture(scope="module")
def rules():
    return load_rules(DATA_DIR / "urgency.json")


NEUTRAL = ("NEUTRAL", 0.9)


@pytest.mark.parametrize(
    ("text", "intent", "level", "signal"),
    [
        ("Our whole platform is down, nobody can log in.", "bug_report", "critical", "outage"),
        ("I think my account was hacked, there are logins from Russia.", "login_issue", "critical", "security"),
        ("All our project files have disappeared after the sync.", "bug_report", "critical", "data_loss"),
        ("I was charged twice for the March invoice.", "billing", "high", "charged_twice"),
        ("My lawyer will be in touch if this is not refunded.", "refund_request", "high", "legal"),
        ("I need the export before our audit deadline on Friday.", "general_inquiry", "high", "deadline"),
        ("I'm locked out of my account since this morning.", "login_issue", "high", "blocked"),
    ],
)
def test_explicit_signals_set_floors(rules, text, intent, level, signal):
    result = rules.assess(text, intent, NEUTRAL, None)
    assert result.level == level
    assert signal in result.signals


def test_intent_baseline_without_signals(rules):
    assert rules.assess("Could you add a dark mode?", "feature_request", NEUTRAL, None).level == "low"
    assert rules.assess("Where is my parcel?", "order_shipping", NEUTRAL, None).level == "medium"


def test_stated_priority_is_a_hint_one_level_below(rules):
    result = rules.assess("I would like a copy of last year's receipts.", "general_inquiry", NEUTRAL, "critical")
    assert result.level == "high"
    assert "stated_priority:critical" in result.signals
    assert rules.assess("The export button is grey.", "bug_report", NEUTRAL, "high").level == "medium"
    assert rules.assess("The export button is grey.", "bug_report", NEUTRAL, "low").level == "low"


def test_plain_questions_are_low(rules):
    assert rules.assess("Do you have a student discount?", "billing", NEUTRAL, "high").level == "low"
    assert rules.assess("Can I lock my account? Someone else logged in!", "login_issue", NEUTRAL, None).level == "critical"


def test_combined_signals_raise_the_floor(rules):
    result = rules.assess("The regulator requires our answer within 48 hours.", "general_inquiry", NEUTRAL, None)
    assert result.level == "critical"
    assert {"legal", "deadline", "legal_deadline"} <= set(result.signals)


def test_negative_sentiment_raises_but_never_to_critical_alone(rules):
    result = rules.assess("The new invoice layout is confusing.", "billing", ("NEGATIVE", 0.95), None)
    assert result.level == "high"
    assert "sentiment:negative" in result.signals
    pushed = rules.assess("The new invoice layout is confusing.", "billing", ("NEGATIVE", 0.95), "critical")
    assert pushed.level == "high"


def test_calm_signal_caps_only_when_nothing_explicit_fired(rules):
    assert rules.assess("No rush, but the export is slow.", "bug_report", NEUTRAL, None).level == "low"
    assert rules.assess("No rush but we lost all our data.", "bug_report", NEUTRAL, None).level == "critical"


def test_invalid_rules_file_is_a_clear_error(tmp_path):
    path = tmp_path / "urgency.json"
    path.write_text(json.dumps({"levels": ["low", "high"], "signals": [{"name": "x", "floor": "urgent", "patterns": []}]}))
    with pytest.raises(RuntimeArtifactError, match="unknown level 'urgent'"):
        load_rules(path)
