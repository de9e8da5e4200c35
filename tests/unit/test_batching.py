"""How the runtime cuts work into runs and decode batches (no models): encoder runs of at most
TOKENS_PER_RUN tokens (rows x longest), decode batches longest first within a row and a source
token budget, and the C heap handed back without failing where there is no glibc."""

from __future__ import annotations

import pytest

from runtime.embed import TOKENS_PER_RUN, plan_runs
from runtime.session import release_free_memory
from runtime.summarize import decode_batches


def covers_each_once(groups: list[list[int]], count: int) -> bool:
    flat = [index for group in groups for index in group]
    return sorted(flat) == list(range(count))


def test_runs_stay_within_the_token_budget_and_cover_every_text():
    lengths = [30, 250, 40, 120, 120, 31, 600, 29, 118]
    runs = plan_runs(lengths, max_batch=32, tokens=256)
    assert covers_each_once(runs, len(lengths))
    for run in runs:
        longest = max(lengths[i] for i in run)
        assert len(run) == 1 or len(run) * longest <= 256, (run, [lengths[i] for i in run])
    assert [6] in runs  # longer than the budget: alone
    assert any(len(run) > 1 for run in runs)  # short texts still share a run


def test_runs_keep_the_batch_limit_and_the_default_budget():
    lengths = [10] * 40
    runs = plan_runs(lengths, max_batch=16)
    assert covers_each_once(runs, 40)
    assert max(len(run) for run in runs) <= min(16, TOKENS_PER_RUN // 10)


def test_decode_batches_go_longest_first_within_rows_and_source_tokens():
    lengths = [100, 300, 50, 200, 250, 80]
    batches = decode_batches(lengths, max_batch=3, cross_tokens=600)
    assert covers_each_once(batches, len(lengths))
    assert batches[0][0] == 1  # the longest input opens the first batch
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat, reverse=True)
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or sum(lengths[i] for i in batch) <= 600


def test_an_input_longer_than_the_budget_is_decoded_alone():
    assert decode_batches([5000, 10, 10], max_batch=8, cross_tokens=1000) == [[0], [1, 2]]


@pytest.mark.parametrize("calls", [1, 3])
def test_handing_back_free_memory_is_harmless(calls):
    for _ in range(calls):
        release_free_memory()
