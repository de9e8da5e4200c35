"""Urgency: the rule signals (data, editable) and the learned model that reads them with the
stated priority, sentiment, intent and the embedding (fitted at export into the test artifacts)."""

import json

import numpy as np
import pytest

from runtime import Enricher, RuntimeConfig
from runtime.config import DATA_DIR
from runtime.errors import RuntimeArtifactError
from runtime.urgency import load_rules
from runtime.urgency_model import UrgencyModel


@pytest.fixture(scope="module")
def rules():
    return load_rules(DATA_DIR / "urgency.json")


@pytest.fixture(scope="module")
def enricher(artifacts_dir):
    return Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="offline"))


def level(enricher, body, priority=None, subject=""):
    [result] = enricher.enrich([{"ticket_id": "U-1", "subject": subject, "body": body, "priority": priority}])
    return result.urgency


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Our whole platform is down, nobody can log in.", "outage"),
        ("I think my account was hacked, there are logins from Russia.", "security"),
        ("All our project files have disappeared after the sync.", "data_loss"),
        ("I was charged twice for the March invoice.", "charged_twice"),
        ("My lawyer will be in touch if this is not refunded.", "legal"),
        ("I need the export before our audit deadline on Friday.", "deadline"),
        ("The booking is for tonight and it vanished.", "deadline_today"),
        ("I'm locked out of my account since this morning.", "blocked"),
        ("This is the third time I write about this.", "waiting"),
        ("No rush, but the export is slow.", "no_rush"),
        ("The app crashes every time I open it.", "stopped_working"),
        ("CSV export still works, so we can manage for now.", "workaround"),
        ("The app crashes on launch for all 45 of our field technicians.", "scale"),
        ("It's for my daughter's course starting next Monday.", "deadline_days"),
    ],
)
def test_signals_fire_on_their_evidence(rules, text, signal):
    assert signal in rules.fired(text)


def test_every_time_alone_is_not_a_broken_feature(rules):
    """A known bad behaviour: the phrase "every time" alone fired stopped_working."""
    assert "stopped_working" not in rules.fired("Every time I open the settings page the sidebar flickers a bit.")
    assert "stopped_working" not in rules.fired("Thanks, every time I call you are helpful.")
    assert "stopped_working" in rules.fired("Uploading fails every time.")


def test_a_past_date_is_not_a_deadline_but_a_date_ahead_beside_it_is(rules):
    """deadline_days' not_within: the date inside "was due on Monday" does not count, another does."""
    assert "deadline_days" not in rules.fired("Where is my parcel? It was due on Monday.")
    assert "deadline_days" not in rules.fired("I sent the dress back on Monday, please refund it.")
    assert "deadline_days" in rules.fired("The dresses were due Tuesday. The wedding is on Saturday.")
    assert "deadline_days" in rules.fired("It hasn't shipped and term starts on Monday.")


def test_combinations_fire_when_all_their_signals_do(rules):
    fired = rules.fired("The regulator requires our answer within 48 hours.")
    assert {"legal", "deadline", "legal_deadline"} <= set(fired)


def test_clear_cases(enricher):
    assert level(enricher, "Our whole platform is down, none of our customers can check out.").level == "critical"
    assert level(enricher, "Someone hacked my account and is making purchases with my saved card.").level == "critical"
    assert level(enricher, "Could you add a dark mode to the app?").level == "low"
    assert level(enricher, "Where is my parcel? It was due on Monday.").level == "medium"


def test_stated_priority_is_a_hint_not_the_answer(enricher):
    trivial = level(enricher, "Do you have a student discount?", priority="critical")
    assert trivial.level == "low"
    assert "stated_priority:critical" in trivial.signals
    severe = level(enricher, "All our client records were deleted after the migration and we have no backup.",
                   priority="low")
    assert severe.level in {"high", "critical"}


def test_content_free_text_is_not_made_urgent_by_its_sentiment(enricher):
    """A known bad behaviour: `{"subject": "ok", "body": "fine ticket"}` came out NEGATIVE 0.97, and
    that sentiment raised its urgency."""
    result = level(enricher, "fine ticket", subject="ok")
    assert result.level in {"low", "medium"}
    assert result.uncertain and result.confidence < 0.5


def test_the_signals_that_fired_are_the_explanation(enricher):
    result = level(enricher, "I'm locked out and payroll is due tomorrow.", priority="high")
    assert {"blocked", "deadline_today", "stated_priority:high"} <= set(result.signals)
    assert 0.0 < result.confidence <= 1.0


def test_model_round_trips_and_knows_what_it_was_fitted_with(enricher, rules):
    model = enricher.urgency_model
    again = UrgencyModel.from_json(model.to_json())
    np.testing.assert_allclose(again.weights, model.weights)
    assert again.fits(rules, enricher.intent_head.labels, enricher.sentiment_head.labels)
    assert not again.fits(rules, ("a", "b"), enricher.sentiment_head.labels)
    assert model.fit_report["cv_accuracy"] > 0.6
    assert enricher.models["urgency"]["head_sha256"] and enricher.models["urgency"]["rules_sha256"] == rules.sha256


def test_edited_rules_refit_the_model_at_start_up_loudly(artifacts_dir, tmp_path):
    """The rules stay data: a user who edits a pattern gets a model refitted on it (and is told)."""
    raw = json.loads((DATA_DIR / "urgency.json").read_text())
    raw["signals"].append({"name": "vip", "patterns": ["\\bvip\\b|\\bgold customer\\b"]})
    path = tmp_path / "urgency.json"
    path.write_text(json.dumps(raw))
    enricher = Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="offline", urgency_path=path))
    assert "fitted at start-up" in enricher.urgency_note
    assert "vip" in enricher.urgency_model.feature_names
    assert enricher.models["urgency"]["head_sha256"] is None and "note" in enricher.models["urgency"]
    [result] = enricher.enrich([{"ticket_id": "V", "body": "I'm a gold customer and the app is down for me."}])
    assert "vip" in result.urgency.signals


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"levels": ["low"]}, "at least two"),
        ({"combinations": [{"name": "x", "all": ["outage", "nonexistent"]}]}, "unknown signals"),
        ({"signals": [{"name": "a", "patterns": ["("]}]}, "error"),
        ({"signals": [{"name": "a", "patterns": ["x"]}, {"name": "a", "patterns": ["y"]}]}, "share a name"),
    ],
)
def test_invalid_rules_file_is_a_clear_error(tmp_path, change, message):
    raw = json.loads((DATA_DIR / "urgency.json").read_text())
    raw.update(change)
    path = tmp_path / "urgency.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(RuntimeArtifactError, match=message):
        load_rules(path)

