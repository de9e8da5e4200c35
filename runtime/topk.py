"""`torch.topk` (CPU, largest, sorted) in numpy, equal values included.

Beam search keeps the k best of its candidates three times a step. When candidates have equal
scores (float32 sums of log-probs do tie; impossible beams all score -1e9), which ones
survive and in what order decides the output, and torch decides it by the order in which
libstdc++ happens to move elements: `std::partial_sort` (a heap) when k * 64 <= n, else
`std::nth_element` (introselect) followed by `std::sort` of the first k - 1. Rows without
ties take a numpy fast path (the result is then unique); rows with ties replay those
algorithms step by step, which is exact and, being rare, cheap enough.
"""

from __future__ import annotations

import numpy as np

_SCAN_CHUNK = 4096
Scored = tuple[float, int]  # (value, index): what the std:: algorithms below compare


def top_k(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest of each row as torch.topk returns them: values, indices [rows, k]."""
    rows, n = values.shape
    if k > n:
        raise ValueError(f"top_k of {k} from rows of {n}")
    candidates = _candidates(values, k)  # [rows, m >= k]: all of each row's k largest, and more
    scores = np.take_along_axis(values, candidates, axis=1)
    order = np.lexsort((candidates, -scores), axis=-1)[:, :k]
    index = np.take_along_axis(candidates, order, axis=1)
    picked = np.take_along_axis(scores, order, axis=1)
    # Equal values inside the k, or at the cut with one left outside: torch's order is then
    # the algorithm's, not the values'. Every element equal to the cut is among the candidates.
    cut = picked[:, -1:]
    outside = (scores == cut).sum(axis=1) > (picked == cut).sum(axis=1)
    tied = (picked[:, 1:] == picked[:, :-1]).any(axis=1) | outside
    for row in np.flatnonzero(tied):
        index[row] = torch_order(values[row], k)
        picked[row] = values[row, index[row]]
    return picked, index


def _candidates(values: np.ndarray, k: int, chunk: int = 64) -> np.ndarray:
    """Indices of a few elements per row that include all of its k largest and everything equal
    to the k-th: on long rows, the chunks whose maximum reaches the k-th largest chunk maximum."""
    rows, n = values.shape
    if n <= 16 * chunk * k:
        return np.broadcast_to(np.arange(n), values.shape)
    whole = n // chunk * chunk
    maxima = values[:, :whole].reshape(rows, -1, chunk).max(axis=2)
    if whole < n:
        maxima = np.concatenate([maxima, values[:, whole:].max(axis=1, keepdims=True)], axis=1)
    bar = -np.partition(-maxima, k - 1, axis=1)[:, k - 1 : k]  # k-th largest chunk maximum
    hits = maxima[:, : whole // chunk] >= bar
    width = int(hits.sum(axis=1).max())
    chunks = np.argsort(~hits, axis=1, kind="stable")[:, :width]  # hit chunks first, then others
    index = (chunks[:, :, None] * chunk + np.arange(chunk)).reshape(rows, -1)
    tail = np.broadcast_to(np.arange(whole, n), (rows, n - whole))  # always a candidate
    return np.concatenate([index, tail], axis=1)


def torch_order(row: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest of `row` in the exact order torch.topk gives them."""
    if k * 64 <= row.size:
        return np.array([i for _, i in _partial_sort(row, k)], dtype=np.int64)
    if k - 1 > 16:
        raise ValueError(f"top_k replays std::sort only for k <= 17 (its insertion-sort range), not {k}")
    items = [(float(v), i) for i, v in enumerate(row.tolist())]
    _nth_element(items, k - 1)
    items[: k - 1] = _insertion_sort(items[: k - 1])
    return np.array([i for _, i in items[:k]], dtype=np.int64)


def _better(a: Scored, b: Scored) -> bool:
    return a[0] > b[0]  # torch's comparator for largest=True (no NaNs in beam scores)


# ---- std::partial_sort: heap select over the whole row, then sort_heap --------------------


def _adjust_heap(heap: list[Scored], hole: int, length: int, value: Scored) -> None:
    top, child = hole, hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _better(heap[child], heap[child - 1]):
            child -= 1
        heap[hole] = heap[child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        heap[hole] = heap[child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and _better(heap[parent], value):
        heap[hole] = heap[parent]
        hole, parent = parent, (parent - 1) // 2
    heap[hole] = value


def _make_heap(heap: list[Scored]) -> None:
    length = len(heap)
    for parent in range((length - 2) // 2, -1, -1):
        _adjust_heap(heap, parent, length, heap[parent])


def _partial_sort(row: np.ndarray, k: int) -> list[Scored]:
    heap = [(float(row[i]), i) for i in range(k)]
    _make_heap(heap)
    # Only elements better than the heap's worst (heap[0]) enter; that bar only rises, so a
    # chunk needs looking at element by element only where it beats the bar at its start.
    for start in range(k, row.size, _SCAN_CHUNK):
        chunk = row[start : start + _SCAN_CHUNK]
        for offset in np.flatnonzero(chunk > heap[0][0]).tolist():
            value = (float(chunk[offset]), start + offset)
            if _better(value, heap[0]):
                _adjust_heap(heap, 0, k, value)
    for last in range(k - 1, 0, -1):  # sort_heap
        value = heap[last]
        heap[last] = heap[0]
        _adjust_heap(heap, 0, last, value)
    return heap


# ---- std::nth_element (introselect) and the insertion sort std::sort uses on short ranges ----


def _insertion_sort(items: list[Scored]) -> list[Scored]:
    items = list(items)
    for i in range(1, len(items)):
        value = items[i]
        if _better(value, items[0]):
            items[1 : i + 1] = items[0:i]
            items[0] = value
        else:
            j = i
            while _better(value, items[j - 1]):
                items[j] = items[j - 1]
                j -= 1
            items[j] = value
    return items


def _median_to_first(items: list[Scored], result: int, a: int, b: int, c: int) -> None:
    def swap(x: int) -> None:
        items[result], items[x] = items[x], items[result]

    if _better(items[a], items[b]):
        if _better(items[b], items[c]):
            swap(b)
        elif _better(items[a], items[c]):
            swap(c)
        else:
            swap(a)
    elif _better(items[a], items[c]):
        swap(a)
    elif _better(items[b], items[c]):
        swap(c)
    else:
        swap(b)


def _partition(items: list[Scored], first: int, last: int) -> int:
    """__unguarded_partition_pivot: median of three to `first`, then Hoare partition."""
    _median_to_first(items, first, first + 1, first + (last - first) // 2, last - 1)
    pivot, low, high = items[first], first + 1, last
    while True:
        while _better(items[low], pivot):
            low += 1
        high -= 1
        while _better(pivot, items[high]):
            high -= 1
        if not low < high:
            return low
        items[low], items[high] = items[high], items[low]
        low += 1


def _nth_element(items: list[Scored], nth: int) -> None:
    first, last = 0, len(items)
    if nth >= last:
        return
    depth = 2 * (last.bit_length() - 1)
    while last - first > 3:
        if depth == 0:  # introselect's fallback: heap select on the rest, nth to the front
            part = items[first : nth + 1]
            _make_heap(part)
            for i in range(nth + 1, last):
                if _better(items[i], part[0]):
                    items[i], part[0] = part[0], items[i]
                    _adjust_heap(part, 0, len(part), part[0])
            items[first : nth + 1] = part
            items[first], items[nth] = items[nth], items[first]
            return
        depth -= 1
        cut = _partition(items, first, last)
        if cut <= nth:
            first = cut
        else:
            last = cut
    items[first:last] = _insertion_sort(items[first:last])
