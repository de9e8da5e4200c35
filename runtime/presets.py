"""Summary presets: how long a summary may be and how it is searched for, by name.

`ticket` (the default) is sized for the reader of a support queue: one or two sentences, in
proportion to the ticket. `news` is the checkpoint's own settings, exactly as transformers loads
them (distilbart-cnn-6-6: 4 beams, 56 to 142 tokens, length penalty 2.0, no-repeat 3-grams:
CNN/DailyMail article summaries, as long as a 60-word ticket). docs/EXPORT.md ("Summary
presets") gives the reasoning behind every number of `ticket`.

Whatever the preset, a summary is never longer than its ticket: a budget never exceeds the
ticket's own token count, and `fit_to_ticket` checks the words of the text that comes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from runtime.generate import GenerationConfig

PRESETS = ("ticket", "news")
DEFAULT_PRESET = "ticket"


@dataclass(frozen=True)
class TokenBudget:
    """New tokens for a ticket of `n` source tokens: `ratio * n` held between `floor` and
    `ceiling`, and never more than `n` itself."""

    ratio: float
    floor: int
    ceiling: int

    def __post_init__(self) -> None:
        if not (0.0 <= self.ratio and 1 <= self.floor <= self.ceiling):
            raise ValueError(f"a token budget needs ratio >= 0 and 1 <= floor <= ceiling, got {self}")

    @classmethod
    def fixed(cls, tokens: int) -> TokenBudget:
        return cls(ratio=0.0, floor=tokens, ceiling=tokens)

    def new_tokens(self, source_tokens: int) -> int:
        wanted = max(self.floor, min(self.ceiling, round(self.ratio * source_tokens)))
        return max(1, min(wanted, source_tokens))


# The `ticket` preset (docs/EXPORT.md, "Summary presets"). A 60-word ticket is ~80 tokens and gets
# the floor, ~20 tokens: one sentence; 150 words (~200 tokens) get 50, two sentences; from ~240
# tokens on, the ceiling, 60 tokens (~45 words).
TICKET_BUDGET = TokenBudget(ratio=0.25, floor=20, ceiling=60)
TICKET_MIN_NEW_TOKENS = 8  # forced <s> + a short clause: no one-word "summaries"


@dataclass(frozen=True)
class SummaryPreset:
    name: str
    config: GenerationConfig  # the search; its max length is the longest any ticket gets
    budget: TokenBudget | None = None  # None: the config's own lengths for every ticket


def summary_preset(name: str, checkpoint: GenerationConfig, num_beams: int | None = None,
                   max_new_tokens: int | None = None) -> SummaryPreset:
    """The named preset on top of the checkpoint's generation settings (forced BOS/EOS, decoder
    start, EOS and pad ids always come from the checkpoint). `num_beams` and `max_new_tokens`
    (TICKET_ENRICH_SUMMARY_NUM_BEAMS / _MAX_NEW_TOKENS) override the preset's: a fixed budget
    of `max_new_tokens`, still never more than the ticket's own tokens."""
    if name == "news":
        preset = SummaryPreset("news", checkpoint)
    elif name == "ticket":
        config = replace(checkpoint, num_beams=1, max_new_tokens=TICKET_BUDGET.ceiling,
                         min_new_tokens=TICKET_MIN_NEW_TOKENS, min_length=0, no_repeat_ngram_size=3,
                         length_penalty=1.0, early_stopping=True)
        preset = SummaryPreset("ticket", config, TICKET_BUDGET)
    else:
        raise ValueError(f"unknown summary preset {name!r}; use one of {', '.join(PRESETS)}")
    if num_beams is not None:
        preset = replace(preset, config=replace(preset.config, num_beams=num_beams))
    if max_new_tokens is not None:
        preset = replace(preset, config=replace(preset.config, max_new_tokens=max_new_tokens),
                         budget=TokenBudget.fixed(max_new_tokens))
    return preset


# A sentence ends at . ! or ? (closing quotes and brackets after it), then a space or the end:
# "version 4.2.1" and "$4.99" do not end one.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


def trim_to_sentence(text: str) -> str:
    """A summary cut off by its budget, back to the end of its last complete sentence when it
    has one; unchanged otherwise."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].rstrip() if ends else text


def fit_to_ticket(summary: str, ticket: str) -> str:
    """Never longer than the ticket, in words: a longer summary is cut at the ticket's word
    count, then back to its last complete sentence inside that when it has one."""
    limit = len(ticket.split())
    words = summary.split()
    if len(words) <= limit:
        return summary
    return trim_to_sentence(" ".join(words[:limit]))
