"""The runtime's numbers against PyTorch: the real MiniLM (sentence-transformers) and the tiny
DistilBERT stand-in, for fp32 and every int8 variant this CPU can run."""

import numpy as np
import pytest

from runtime.classify import SequenceClassifier
from runtime.cpu import can_run, detect_cpu_features
from runtime.embed import Embedder
from runtime.manifest import load_manifest
from runtime.session import SessionSettings

TEXTS = [
    "Hi team, since this morning I cannot log in to the customer portal. It says 'invalid credentials'.",
    "Our invoice for October shows a charge of $499 for the Enterprise plan but we downgraded to Pro.",
    "Thanks for the quick fix yesterday, everything works great now!",
    "The mobile app crashes immediately on launch after the latest update (version 4.2.1).",
    "word " * 300,  # longer than MiniLM's 256-token window: truncation must match
    "ok",
]
SETTINGS = SessionSettings(threads=2)


def runnable(entry):
    features = detect_cpu_features()
    return [v for v in entry.variants if can_run(v, features)]


@pytest.fixture(scope="module")
def manifest(artifacts_dir):
    return load_manifest(artifacts_dir)


@pytest.fixture(scope="module")
def minilm_reference():
    from sentence_transformers import SentenceTransformer

    from export.packages import minilm_package_dir

    model = SentenceTransformer(str(minilm_package_dir()), device="cpu")
    return model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)


def test_embeddings_match_sentence_transformers(artifacts_dir, manifest, minilm_reference):
    entry = manifest.models["embedding"]
    for variant in runnable(entry):
        embeddings = Embedder.load(artifacts_dir, entry, variant, SETTINGS).embed(TEXTS)
        cosine = (embeddings * minilm_reference).sum(axis=1)
        gate = 0.99999 if variant == "fp32" else 0.99
        assert cosine.min() >= gate, (variant, cosine.round(6).tolist())
        np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_sentiment_logits_match_pytorch(artifacts_dir, manifest, checkpoints_dir):
    if "sentiment" not in manifest.models:
        pytest.skip("offline artifacts have no sentiment model")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from export.recheck import source_folder

    entry = manifest.models["sentiment"]
    folder = source_folder("sentiment", entry, checkpoints_dir)  # the checkpoint the manifest records
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=512, return_tensors="pt")
        reference = model(**batch).logits.numpy()
    for variant in runnable(entry):
        classifier = SequenceClassifier.load(artifacts_dir, entry, variant, SETTINGS)
        logits = classifier.logits(TEXTS)
        if variant == "fp32":
            assert np.abs(logits - reference).max() <= 1e-4
        else:
            probs = classifier.probabilities(TEXTS)
            ref_probs = np.exp(reference) / np.exp(reference).sum(axis=1, keepdims=True)
            assert np.abs(probs - ref_probs).max() <= 0.02, variant
