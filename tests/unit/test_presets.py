"""Summary presets: the ticket-sized default, the checkpoint's own `news` settings, overrides by
environment, and a summary that is never longer than its ticket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime import Enricher, RuntimeConfig
from runtime.generate import GenerationConfig
from runtime.presets import (
    DEFAULT_PRESET,
    PRESETS,
    TICKET_BUDGET,
    TokenBudget,
    fit_to_ticket,
    summary_preset,
    trim_to_sentence,
)
from ticket_enrich.enrich_cmd import SUMMARY_PRESETS

REPO = Path(__file__).resolve().parents[2]
# distilbart-cnn-6-6's settings, as transformers loads them
CHECKPOINT = GenerationConfig(num_beams=4, max_length=142, min_length=56, no_repeat_ngram_size=3, length_penalty=2.0,
                              early_stopping=True, forced_bos_token_id=0, forced_eos_token_id=2,
                              decoder_start_token_id=2, eos_token_id=2, pad_token_id=1)


def test_budget_is_in_proportion_within_floor_and_ceiling_and_never_past_the_ticket():
    budget = TokenBudget(ratio=0.25, floor=20, ceiling=60)
    assert [budget.new_tokens(n) for n in (10, 40, 80, 120, 200, 240, 1000)] == [10, 20, 20, 30, 50, 60, 60]
    assert TokenBudget.fixed(30).new_tokens(500) == 30 and TokenBudget.fixed(30).new_tokens(12) == 12
    with pytest.raises(ValueError):
        TokenBudget(ratio=0.25, floor=70, ceiling=60)


def test_news_is_the_checkpoints_settings_untouched():
    news = summary_preset("news", CHECKPOINT)
    assert news.config == CHECKPOINT and news.budget is None


def test_ticket_keeps_the_checkpoints_ids_and_forced_tokens():
    ticket = summary_preset(DEFAULT_PRESET, CHECKPOINT)
    assert ticket.name == "ticket" and ticket.budget == TICKET_BUDGET
    config = ticket.config
    assert (config.num_beams, config.no_repeat_ngram_size, config.length_penalty) == (1, 3, 1.0)
    assert config.total_max_length == TICKET_BUDGET.ceiling + 1 and config.min_new_tokens == 8
    for key in ("forced_bos_token_id", "forced_eos_token_id", "decoder_start_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(config, key) == getattr(CHECKPOINT, key)


def test_overrides_replace_the_presets_beams_and_budget():
    preset = summary_preset("ticket", CHECKPOINT, num_beams=2, max_new_tokens=30)
    assert preset.config.num_beams == 2 and preset.config.max_new_tokens == 30
    assert preset.budget == TokenBudget.fixed(30)
    news = summary_preset("news", CHECKPOINT, max_new_tokens=40)
    assert news.config.num_beams == 4 and news.config.max_new_tokens == 40 and news.budget == TokenBudget.fixed(40)
    with pytest.raises(ValueError, match="ticket, news"):
        summary_preset("tweet", CHECKPOINT)


def test_the_preset_comes_from_the_environment():
    assert RuntimeConfig.from_env({}).summary_preset == "ticket"
    assert RuntimeConfig.from_env({"TICKET_ENRICH_SUMMARY_PRESET": "news"}).summary_preset == "news"
    with pytest.raises(ValueError, match="not one of ticket, news"):
        RuntimeConfig.from_env({"TICKET_ENRICH_SUMMARY_PRESET": "tweet"})
    assert SUMMARY_PRESETS == PRESETS  # the CLI's choices, spelled out there to keep it light


def test_a_cut_summary_goes_back_to_its_last_complete_sentence():
    assert trim_to_sentence("The app crashes on launch. Since version 4.2.1 it also logs the user") == \
        "The app crashes on launch."
    assert trim_to_sentence('He said "refund me!" and then the') == 'He said "refund me!"'
    assert trim_to_sentence("Costs $4.99 per seat and the") == "Costs $4.99 per seat and the"  # no sentence end


def test_a_summary_is_never_longer_than_its_ticket():
    ticket = "Login fails. I reset my password twice and it still fails."
    assert fit_to_ticket("Login fails.", ticket) == "Login fails."
    long = "Login fails after reset. The user reset the password twice. Support should check the account lock now."
    fitted = fit_to_ticket(long, ticket)
    assert fitted == "Login fails after reset. The user reset the password twice."
    assert len(fitted.split()) <= len(ticket.split())
    assert len(fit_to_ticket("word " * 40, ticket).split()) == len(ticket.split())


@pytest.fixture(scope="module")
def sample_tickets() -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((REPO / "samples" / "tickets").glob("TKT-*.json"))]


@pytest.mark.parametrize("preset", PRESETS)
def test_sample_summaries_fit_their_tickets_and_record_their_preset(artifacts_dir, sample_tickets, preset):
    """Stand-in weights (random) rarely stop early: the budgets and the word check are what
    keep every summary inside its ticket, for the default and for the news settings alone."""
    enricher = Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="full", summary_preset=preset))
    tickets = sample_tickets[:: 4 if preset == "news" else 2]  # news: 4 beams x up to 142 tokens
    results = enricher.enrich(tickets)
    for ticket, result in zip(tickets, results, strict=True):
        text = f"{ticket.get('subject') or ''} {ticket['body']}"
        assert len(result.summary.split()) <= len(text.split()), (preset, ticket["ticket_id"])
        assert result.to_dict()["enrichment"]["summary_preset"] == (
            preset if result.summary_kind == "abstractive" else None)
    assert any(r.summary_kind == "abstractive" for r in results)
    assert enricher.describe()["summary_preset"] == preset
