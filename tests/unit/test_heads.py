import json

import numpy as np
import pytest

from runtime.errors import RuntimeArtifactError
from runtime.heads import EmbeddingHead, fit_head, load_taxonomy


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
