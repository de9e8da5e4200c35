"""The evaluation maths that `ticket-enrich fit` and the accuracy tests share."""

import numpy as np
import pytest

from runtime.metrics import calibration, confusion_text, evaluate, summary_text


def test_scores_by_hand():
    gold = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    report = evaluate(gold, pred, labels=["a", "b", "c"])
    assert report.accuracy == pytest.approx(4 / 6)
    a, b, c = (report.per_class[k] for k in "abc")
    assert (a.precision, a.recall) == (1.0, pytest.approx(2 / 3))
    assert (b.precision, b.recall) == (0.5, 0.5)
    assert (c.precision, c.recall) == (0.5, 1.0)
    assert report.macro_f1 == pytest.approx(np.mean([0.8, 0.5, 2 / 3]))
    assert report.confusion.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report.top_confusions() == ["a -> b: 1", "b -> c: 1"]
    assert report.calibration is None


def test_expected_calibration_error():
    # ten predictions at 0.9 of which nine right: calibrated; ten at 0.9 of which five right: off by 0.4
    assert calibration(np.full(10, 0.9), np.array([1] * 9 + [0])).ece == pytest.approx(0.0)
    assert calibration(np.full(10, 0.9), np.array([1] * 5 + [0] * 5)).ece == pytest.approx(0.4)
    mixed = calibration(np.array([0.95] * 4 + [0.55] * 4), np.array([1, 1, 1, 1, 1, 0, 0, 0]))
    assert mixed.ece == pytest.approx(0.5 * 0.05 + 0.5 * 0.30)
    assert [b[2] for b in mixed.bins] == [4, 4]


def test_text_report_names_every_label():
    report = evaluate(["x", "y", "y"], ["x", "x", "y"], [0.9, 0.6, 0.8])
    text = summary_text(report, "intent")
    assert "accuracy 0.667" in text and "ECE" in text
    assert confusion_text(report).splitlines()[2].startswith("x ")
    assert report.to_dict()["confusion"] == {"labels": ["x", "y"], "matrix": [[1, 0], [1, 1]]}


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="as many predictions"):
        evaluate(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="not among"):
        evaluate(["a"], ["z"], labels=["a", "b"])
