"""runtime.topk.top_k returns what torch.topk returns, index for index, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.topk import top_k

torch = pytest.importorskip("torch")


def assert_like_torch(values: np.ndarray, k: int) -> None:
    expected = torch.topk(torch.from_numpy(values), k)
    scores, index = top_k(values, k)
    np.testing.assert_array_equal(index, expected.indices.numpy())
    np.testing.assert_array_equal(scores, expected.values.numpy())


@pytest.mark.parametrize(
    "rows, n, k",
    [
        (4, 8, 4),  # beam search's running beams: 2 * num_beams candidates, nth_element path
        (4, 12, 4),  # its finished beams: 3 * num_beams, nth_element path
        (3, 6, 2),
        (2, 34, 17),
        (3, 4 * 2000, 8),  # its candidates over beams * vocab: partial_sort path
        (2, 4 * 5003, 8),  # long rows: chunked candidates, a short last chunk
        (2, 64 * 3, 3),  # exactly at the partial_sort threshold
        (2, 64 * 3 - 1, 3),  # just below it
    ],
)
def test_ties_are_ordered_as_torch_orders_them(rows, n, k):
    rng = np.random.default_rng(n * 31 + k)
    for _ in range(20):
        levels = np.array([-np.inf, -1e9, -3.5, -2.0, -2.0, 0.0], dtype=np.float32)
        values = rng.choice(levels, size=(rows, n)).astype(np.float32)
        assert_like_torch(values, k)
        assert_like_torch(rng.normal(size=(rows, n)).astype(np.float32), k)  # no ties: the fast path


def test_forced_first_step_of_beam_search():
    """Step one with a forced BOS: one 0, three -1e9 and -inf everywhere else."""
    vocab = 50264
    values = np.full((2, 4 * vocab), -np.inf, dtype=np.float32)
    values[:, 0] = 0.0
    values[:, [vocab, 2 * vocab, 3 * vocab]] = -1e9
    assert_like_torch(values, 8)


def test_rejects_more_than_it_can_replay():
    with pytest.raises(ValueError):
        top_k(np.zeros((1, 40), dtype=np.float32), 20)
