import numpy as np

from runtime.extractive import candidate_sentences, pick_central


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_most_central_sentences_in_reading_order():
    sentences = ["Hi team.", "My invoice shows the wrong plan.", "Please correct the invoice and the plan.", "Bye."]
    vectors = unit([[0, 0, 1], [1, 0.1, 0], [1, 0, 0.1], [0, 1, 0]])
    ticket = unit([[1, 0, 0]])[0]
    assert pick_central(sentences, vectors, ticket, count=2, max_words=60) == (
        "My invoice shows the wrong plan. Please correct the invoice and the plan.")


def test_word_budget_skips_long_sentences_after_the_first():
    sentences = ["short central one here.", "a much longer sentence " * 10, "another short one here."]
    vectors = unit([[1, 0], [1, 0.01], [0.9, 0.1]])
    summary = pick_central(sentences, vectors, unit([[1, 0]])[0], count=2, max_words=12)
    assert summary == "short central one here. another short one here."


def test_a_run_on_ticket_is_cut_to_the_budget():
    text = "error " * 5000
    sentences = candidate_sentences(text)
    summary = pick_central(sentences, unit([[1, 0]]), unit([[1, 0]])[0], count=2, max_words=60)
    assert len(summary.split()) == 61 and summary.endswith("…")


def test_greetings_are_not_candidates_when_there_is_content():
    assert candidate_sentences("Hi. Thanks. The export to CSV fails with error 500.") == [
        "The export to CSV fails with error 500."]
