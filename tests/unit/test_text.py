from runtime.text import pad, plan_batches, split_sentences


def test_pad_makes_ids_and_mask():
    encoded = pad([[5, 6, 7], [8]], pad_id=0)
    assert encoded.ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert encoded.mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert encoded.lengths.tolist() == [3, 1]


def test_batches_cover_every_index_once_and_sort_by_length():
    lengths = [12, 300, 15, 290, 14, 13, 11, 310]
    batches = plan_batches(lengths, max_batch=32, max_waste=0.25)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches[0] == [7, 1, 3]  # the long ones together, longest first
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert longest * len(batch) <= sum(lengths[i] for i in batch) * 1.25


def test_batches_respect_max_batch():
    batches = plan_batches([10] * 70, max_batch=32)
    assert [len(b) for b in batches] == [32, 32, 6]


def test_split_sentences():
    text = "Hi team. I cannot log in! Is the portal down? Thanks,\n\nBob"
    assert split_sentences(text) == ["Hi team.", "I cannot log in!", "Is the portal down?", "Thanks,", "Bob"]
    assert split_sentences("version 4.2.1 crashes") == ["version 4.2.1 crashes"]
    assert split_sentences("") == []
