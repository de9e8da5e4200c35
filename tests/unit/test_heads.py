import json

import numpy as np
import pytest

from runtime.errors import RuntimeArtifactError
from runtime.heads import EmbeddingHead, cross_validate_head, fit_head, fit_ridges, load_taxonomy


def write_taxonomy(tmp_path, labels):
    path = tmp_path / "tax.json"
    path.write_text(json.dumps({"labels": [{"name": n, "description": n, "examples": ex} for n, ex in labels]}))
    return path


def clustered(rng, centres, per_class, noise):
    x = np.concatenate([c + noise * rng.standard_normal((per_class, c.size)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.repeat(np.arange(len(centres)), per_class)
    return x, y


def test_head_separates_clusters_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 16))
    taxonomy = load_taxonomy(write_taxonomy(tmp_path, [(n, ["a", "b"]) for n in ("x", "y", "z")]))
    x, y = clustered(rng, centres, 40, 0.3)
    head = fit_head(x, y, taxonomy)
    test_x, test_y = clustered(rng, centres, 20, 0.3)
    predicted = [taxonomy.labels.index(label) for label, _ in head.predict(test_x)]
    assert np.mean(np.asarray(predicted) == test_y) > 0.95
    again = EmbeddingHead.from_json(head.to_json())
    np.testing.assert_allclose(again.probabilities(test_x), head.probabilities(test_x))
    assert head.fit_report["cv_accuracy"] > 0.9


def test_confidence_is_calibrated_lower_on_overlapping_classes(tmp_path):
    rng = np.random.default_rng(1)
    taxonomy = load_taxonomy(write_taxonomy(tmp_path, [("a", ["1", "2"]), ("b", ["3", "4"])]))
    centres = rng.standard_normal((2, 16))
    sharp = fit_head(*clustered(rng, centres, 50, 0.1), taxonomy)
    blurred = fit_head(*clustered(rng, centres, 50, 2.0), taxonomy)
    probe = clustered(rng, centres, 20, 1.0)[0]
    assert blurred.probabilities(probe).max(axis=1).mean() < sharp.probabilities(probe).max(axis=1).mean()


def test_training_set_includes_descriptions(tmp_path):
    taxonomy = load_taxonomy(write_taxonomy(tmp_path, [("a", ["1", "2"]), ("b", ["3", "4", "5"])]))
    texts, targets = taxonomy.training_set()
    assert texts == ["a", "1", "2", "b", "3", "4", "5"]
    assert targets.tolist() == [0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("content", ["not json", '{"labels": [{"name": "only", "examples": ["a", "b"]}]}',
                                     '{"labels": [{"name": "a", "examples": ["x"]}, {"name": "b", "examples": ["y", "z"]}]}'])
def test_bad_taxonomy_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RuntimeArtifactError, match="taxonomy"):
        load_taxonomy(path)


def worded(rng, per_class):
    """Texts whose words carry the class (and whose embeddings barely do)."""
    vocab = {0: ["refund", "money back", "reimburse"], 1: ["login", "password", "locked out"], 2: ["parcel", "tracking", "delivery"]}
    texts, y = [], []
    for label, words in vocab.items():
        for i in range(per_class):
            texts.append(f"ticket {i}: {words[i % 3]} please {rng.integers(1000)}")
            y.append(label)
    return texts, np.asarray(y)


def test_words_blend_in_when_they_help_and_the_embedding_alone_still_answers(tmp_path):
    rng = np.random.default_rng(2)
    texts, y = worded(rng, 30)
    x = rng.standard_normal((len(y), 16)) * 0.5 + np.eye(3, 16)[y] * 0.3  # weak embedding evidence
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    fit = cross_validate_head(x, y, ("refund", "login", "parcel"), "sha", texts)
    head = fit.head
    assert head.fit_report["cv_accuracy"] > head.fit_report["cv_accuracy_embedding"]
    assert fit.oof_probabilities.shape == (len(y), 3)
    again = EmbeddingHead.from_json(head.to_json())
    np.testing.assert_allclose(again.probabilities(x, texts), head.probabilities(x, texts))
    # the embedding-only path (what the offline sentiment's callers use) is its own calibrated classifier
    np.testing.assert_allclose(again.probabilities(x), head.probabilities(x))
    assert not np.allclose(head.probabilities(x), head.probabilities(x, texts))


def test_a_head_written_before_the_word_features_still_loads():
    old = json.dumps({"labels": ["a", "b"], "mean": [0.0, 0.0], "weights": [[1.0, -1.0], [0.0, 0.0]],
                      "bias": [0.5, 0.5], "temperature": 0.5, "taxonomy_sha256": "x", "fit_report": {}})
    head = EmbeddingHead.from_json(old)
    assert head.lexical is None and head.origin == {"kind": "taxonomy"} and head.pipeline_temperature == 1.0
    label, _ = head.predict(np.array([[1.0, 0.0]]), ["any text"])[0]
    assert label == "a"


def test_ridges_solve_the_same_in_primal_and_dual():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 40)
    wide = rng.standard_normal((40, 60))  # more features than rows: the dual
    narrow = wide[:, :20]  # the primal
    for x in (wide, narrow):
        [ridge] = fit_ridges(x, y, 3, [1.0])
        centred = x - x.mean(axis=0)
        targets = np.eye(3)[y] - np.eye(3)[y].mean(axis=0)
        direct = np.linalg.solve(centred.T @ centred + np.eye(x.shape[1]), centred.T @ targets)
        np.testing.assert_allclose(ridge.weights, direct, atol=1e-8)
