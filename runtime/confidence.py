"""How a label's final probabilities are formed from a head, so that the export calibrates
exactly what the runtime serves:

    head probabilities (embedding + words)
      -> sentence pooling (offline sentiment: the newest message, without quoted history or
         signatures, and its sentences, the most emotional sentence included, read by a small
         learned combination)
      -> pipeline temperature (fitted at export on example tickets the head never saw)
      -> pulled towards uniform by the out-of-domain score (content-free, off-topic, non-English)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.classify import combine_sentence_probs, softmax
from runtime.domain import towards_uniform
from runtime.extractive import MAX_SENTENCES, Sentences
from runtime.heads import TEMPERATURES, EmbeddingHead, best_temperature, folds
from runtime.logistic import fit_logistic

POOLING_L2 = (0.001, 0.003, 0.01)


def sharpen(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature on probabilities: softmax(log p / T)."""
    if temperature == 1.0:
        return probs
    return softmax(np.log(np.clip(probs, 1e-12, None)) / temperature)


def finish(probs: np.ndarray, temperature: float, in_domain: np.ndarray) -> np.ndarray:
    """The last two steps: the pipeline temperature, then the pull towards uniform."""
    return towards_uniform(sharpen(probs, temperature), in_domain)


_CLAUSE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# where the newest message ends: a reply header, a forwarded or original message, a signature or disclaimer
_HISTORY = re.compile(
    r"-{2,}\s*(original|forwarded) message|begin forwarded message:?|"
    r"^\s*(on\b.{0,120}\bwrote:|from:\s|sent from (my|outlook)\b|--\s*$|"
    r"this (e-?mail|message) (and any|may contain|is (confidential|intended))|disclaimer\b)",
    re.IGNORECASE | re.MULTILINE)
_SUBJECT_PREFIX = re.compile(r"^\s*(re|fwd?|forward|aw|wg|tr)\s*:[^\n.!?]*[.!?]?", re.IGNORECASE)


def newest_message(text: str) -> str:
    """What sentiment reads (docs/LABELLING.md: label the newest message; quoted history is context,
    signatures are ignored): the text without quoted lines ("> ...") and before the first reply
    header, forwarded message, signature or disclaimer; the whole text when that leaves under
    three words of the customer's own (a forward with nothing added)."""
    unquoted = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
    found = _HISTORY.search(unquoted)
    newest = (unquoted[:found.start()] if found else unquoted).strip()
    own_words = _SUBJECT_PREFIX.sub("", newest, count=1).split()  # a bare "Fwd: subject." says nothing
    return newest if len(own_words) >= 3 else text


def sentiment_sentences(text: str) -> list[str]:
    """Finer than the summary's sentences: any . ! ? or line break ends one, capital or not
    ("honestly your FAQ is useless. where are the docs"), and two words are enough ("Absolutely
    unacceptable."). Measured on the dev tickets: +0.9 and +1.3 points over the summary's split."""
    parts = [part.strip() for part in _CLAUSE_END.split(text) if part.strip()]
    useful = [part for part in parts if len(part.split()) >= 2]
    return (useful or parts or [text])[:MAX_SENTENCES]


# (whole-text probabilities [K], the sentences' probabilities [S, K]) of one ticket
SentenceParts = tuple[np.ndarray, np.ndarray]


def sentence_parts(head: EmbeddingHead, texts: Sequence[str], vectors: np.ndarray, sentences: Sentences,
                   embed: Callable[[list[str]], np.ndarray]) -> list[SentenceParts]:
    """The head's probabilities of each ticket's newest message and of each of its sentences.
    `vectors` are the whole texts' and `sentences` the summary's (already embedded); what is not
    among them (a newest message shorter than its text, the finer sentences) is embedded here."""
    newest = [newest_message(text) for text in texts]
    known = {s: v for found, block in zip(*sentences, strict=True) for s, v in zip(found, block, strict=True)}
    known.update((text, v) for text, v in zip(texts, vectors, strict=True))
    finer = [sentiment_sentences(text) for text in newest]
    missing = list(dict.fromkeys(s for found in [newest, *finer] for s in found if s not in known))
    if missing:
        known.update(zip(missing, embed(missing), strict=True))
    whole = head.probabilities(np.stack([known[text] for text in newest]), newest)
    return [(w, head.probabilities(np.stack([known[s] for s in found]), found)) for w, found in zip(whole, finer, strict=True)]


def pooling_features(whole: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    """[4K + 1]: the whole text's log-probabilities; over the sentences, each label's largest and
    mean probability; the first sentence's; log(number of sentences)."""
    return np.concatenate([np.log(whole + 1e-6), sentences.max(axis=0), sentences.mean(axis=0), sentences[0],
                           [np.log(len(sentences))]])


@dataclass(frozen=True)
class SentencePooling:
    """A ticket's sentiment from its whole text and its sentences: a small logistic regression on
    pooling_features, fitted on example tickets read by heads that were not fitted on them. It
    learns what the labelling guide says: one angry sentence in a calm ticket makes it NEGATIVE,
    warm praise with a calmly reported problem stays POSITIVE, praise then a complaint is NEGATIVE."""

    weights: np.ndarray  # [4K + 1, K]
    bias: np.ndarray  # [K]
    fit_report: dict[str, Any]

    def combine(self, whole: np.ndarray, sentences: np.ndarray) -> np.ndarray:
        probs: np.ndarray = softmax(pooling_features(whole, sentences) @ self.weights + self.bias)
        return probs

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights.tolist(), "bias": self.bias.tolist(), "fit_report": self.fit_report}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SentencePooling:
        return cls(np.asarray(raw["weights"], np.float64), np.asarray(raw["bias"], np.float64),
                   raw.get("fit_report", {}))


def fit_sentence_pooling(parts: Sequence[SentenceParts], targets: np.ndarray, labels: tuple[str, ...],
                         fold_count: int = 5) -> tuple[SentencePooling, np.ndarray]:
    """The pooling, its L2 chosen by cross-validation, and its out-of-fold probabilities [N, K]
    (what calibrates the pipeline temperature after it)."""
    x = np.stack([pooling_features(w, s) for w, s in parts])
    y = np.asarray(targets, np.int64)
    classes = x.shape[1] // 4
    fold = folds(y, fold_count, seed=3)
    oof = {lam: np.zeros((len(y), classes)) for lam in POOLING_L2}
    for k in range(fold_count):
        for lam in POOLING_L2:
            weights, bias = fit_logistic(x[fold != k], y[fold != k], classes, lam)
            oof[lam][fold == k] = x[fold == k] @ weights + bias
    lam = max(POOLING_L2, key=lambda v: (float((oof[v].argmax(axis=1) == y).mean()), v))
    weights, bias = fit_logistic(x, y, classes, lam)
    rule = np.stack([combine_sentence_probs(w, s, labels) for w, s in parts])
    report = {"tickets": len(y), "l2": lam, "cv_accuracy": round(float((oof[lam].argmax(axis=1) == y).mean()), 4),
              "cv_nll": round(best_temperature(oof[lam], y)[1], 4),
              "fixed_rule_accuracy": round(float((rule.argmax(axis=1) == y).mean()), 4)}
    return SentencePooling(weights, bias, report), softmax(oof[lam])


def pooled_sentiment(head: EmbeddingHead, texts: Sequence[str], vectors: np.ndarray, sentences: Sentences,
                     embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Sentiment of the newest message and of its sentences, combined: by the head's learned pooling
    when it has one, else by combine_sentence_probs (a team's own head, older artifacts)."""
    if not len(texts):
        return head.probabilities(vectors, texts)
    parts = sentence_parts(head, texts, vectors, sentences, embed)
    if head.sentence_pooling:
        pooling = SentencePooling.from_dict(head.sentence_pooling)
        return np.stack([pooling.combine(w, s) for w, s in parts])
    return np.stack([combine_sentence_probs(w, s, head.labels) for w, s in parts])


CANDIDATE_TEMPERATURES = tuple(float(t) for t in TEMPERATURES[(TEMPERATURES >= 0.25) & (TEMPERATURES <= 4.0)])


def fit_pipeline_temperature(final_at: Callable[[float], np.ndarray], targets: np.ndarray) -> tuple[float, float]:
    """The temperature minimising the negative log-likelihood of the final probabilities on
    labelled tickets (`final_at(t)`: the final probabilities with temperature t), and that NLL."""
    rows = np.arange(len(targets))
    losses = {t: float(-np.log(np.clip(final_at(t)[rows, targets], 1e-12, None)).mean())
              for t in CANDIDATE_TEMPERATURES}
    best = min(losses, key=losses.__getitem__)
    return best, losses[best]
