"""Security properties of the serving path (runtime/, worker/, ticket_enrich/):

- a tampered artifact stops start-up: the runtime's check is tests/unit/test_runtime_start.py
  (test_tampered_artifact_stops_start_up, a model file) and fetch-artifacts' is
  tests/integration/test_worker_cli.py; here, the worker process refuses a tampered head file;
- no pickle: nothing on the path imports a pickle-based loader (static), and a real worker run
  unpickles nothing and opens only .onnx and .json artifacts (audit hook);
- ticket fields are capped before any tokenizer sees them;
- the logs at INFO never contain a ticket's text.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from worker_harness import REPO, ticket, upload

from runtime.ticket import MAX_TEXT_CHARS
from ticket_schema import MAX_BODY_CHARS, MAX_SUBJECT_CHARS, validate_ticket
from tools.rig import records, worker_env

SERVING_PACKAGES = ("runtime", "worker", "ticket_schema", "ticket_enrich")
AUDITED_WORKER = Path(__file__).with_name("audited_worker.py")
TICKET_ENRICH = str(Path(sys.executable).with_name("ticket-enrich"))

# Modules whose loaders unpickle (torch.load and joblib are pickle underneath).
PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib", "shelve", "torch", "pandas"}
UNSAFE_CALLS = {"torch.load", "np.load", "numpy.load", "joblib.load", "yaml.load", "yaml.unsafe_load",
                "yaml.full_load", "pd.read_pickle", "pandas.read_pickle"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def pickle_findings(source: str, name: str) -> list[str]:
    """Imports of pickle-based modules, calls of unpickling loaders, any allow_pickle other than False."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            found += [f"{name}:{node.lineno} import {a.name}" for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
            found.append(f"{name}:{node.lineno} from {node.module} import ...")
        elif isinstance(node, ast.Call):
            if _dotted(node.func) in UNSAFE_CALLS:
                found.append(f"{name}:{node.lineno} {_dotted(node.func)}()")
            for keyword in node.keywords:
                if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    found.append(f"{name}:{node.lineno} allow_pickle={ast.unparse(keyword.value)}")
    return found


def test_the_scan_finds_what_it_looks_for():
    sample = "import pickle\nfrom joblib import load\nimport numpy as np\nnp.load('x.npy', allow_pickle=True)\n" \
             "torch.load('m.pt')\nnp.savez('x', allow_pickle=flag)\n"
    assert len(pickle_findings(sample, "sample.py")) == 6


def test_no_pickle_anywhere_on_the_serving_path():
    files = [path for package in SERVING_PACKAGES for path in sorted((REPO / package).rglob("*.py"))]
    assert len(files) > 30
    findings = [f for path in files for f in pickle_findings(path.read_text(), str(path.relative_to(REPO)))]
    assert findings == []


def test_artifacts_hold_no_pickle_formats(artifacts_dir):
    # .data: ONNX external tensor data (raw little-endian bytes that onnxruntime maps), not a pickle
    suffixes = {path.suffix for path in artifacts_dir.rglob("*") if path.is_file()}
    assert suffixes <= {".onnx", ".data", ".json", ".txt"}, suffixes


def test_fields_are_capped_before_any_tokenizer_sees_them(enricher, offline_enricher, monkeypatch):
    """The largest ticket the schema accepts; every tokenizer of both profiles is wrapped to
    record the length of each text it is given."""
    biggest = validate_ticket(json.dumps({"ticket_id": "CAP-1", "subject": "s " * (MAX_SUBJECT_CHARS // 2),
                                          "body": "word. " * (MAX_BODY_CHARS // 6)}))
    seen: list[int] = []

    class Recording:
        def __init__(self, inner):
            self.inner = inner

        def encode_batch(self, texts, *args, **kwargs):
            seen.extend(len(t) for t in texts)
            return self.inner.encode_batch(texts, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    owners = [offline_enricher.embedder.model, enricher.embedder.model, enricher.sentiment_model.model,
              enricher.summarizer]
    for owner in owners:
        monkeypatch.setattr(owner, "tokenizer", Recording(owner.tokenizer))
    for engine in (offline_enricher, enricher):
        [result] = engine.enrich([biggest])
        assert result.summary
    assert len(seen) >= len(owners) and max(seen) <= MAX_TEXT_CHARS < len(biggest.body)


def test_a_tampered_head_file_stops_the_worker(aws_env, stack, artifacts_dir, tmp_path):
    root = tmp_path / "artifacts"
    shutil.copytree(artifacts_dir, root, copy_function=os.link)  # hard links: cheap; replace, never edit
    target = root / "heads" / "intent.json"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.unlink()
    target.write_bytes(bytes(data))
    run = subprocess.run([TICKET_ENRICH, "worker", "--until-empty"], env=worker_env(aws_env, stack, root),
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 2
    [line] = [json.loads(raw) for raw in run.stderr.splitlines() if "cannot load the models" in raw]
    assert "sha256 mismatch" in line["error"] and "heads/intent.json" in line["error"]
    assert "worker ready" not in run.stderr


MARKER = "zq-secret-7f3a"  # appears in every ticket's text, never in an id, key or reason


def test_a_served_run_logs_no_ticket_text_and_unpickles_nothing(clients, make_stack, aws_env, artifacts_dir,
                                                               tmp_path):
    """`ticket-enrich worker --until-empty` at INFO under the audit hook, on tickets that carry
    MARKER in every text field: enriched, rejected for a field, invalid JSON, sent directly."""
    stack = make_stack(visibility_timeout=5)
    text = f"My card was charged twice {MARKER}. Please refund {MARKER} today."
    for i in range(3):
        upload(clients, stack, f"sec/{i}.json", ticket(f"SEC-{i}", text=text, subject=f"Refund {MARKER}",
                                                        customer_id=f"cust-{MARKER}", metadata={"source": MARKER}))
    upload(clients, stack, "sec/bad-priority.json", ticket("SEC-BAD", text=text, priority="someday"))
    upload(clients, stack, "sec/broken.json", f'{{"ticket_id": "SEC-X", "body": "{MARKER}'.encode())
    queue = clients.sqs.get_queue_url(QueueName=stack.queue_name)["QueueUrl"]
    clients.sqs.send_message(QueueUrl=queue, MessageBody=ticket("SEC-DIRECT", text=text).decode())
    clients.sqs.send_message(QueueUrl=queue, MessageBody=f"not json {MARKER}")
    events_file = tmp_path / "events.json"
    run = subprocess.run([sys.executable, str(AUDITED_WORKER), "--events", str(events_file), "--", "--until-empty"],
                         env=worker_env(aws_env, stack, artifacts_dir, TICKET_ENRICH_LOG_LEVEL="INFO"),
                         capture_output=True, text=True, timeout=180, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]

    found = records(clients, stack)
    assert sum(1 for item in found.values() if item["status"]["S"] == "enriched") == 4
    assert sum(1 for item in found.values() if item["status"]["S"] == "rejected") == 3
    messages = [json.loads(raw)["msg"] for raw in run.stderr.splitlines() if raw.startswith("{")]
    assert "worker ready" in messages and "batch done" in messages and messages.count("ticket rejected") == 3
    assert MARKER not in run.stderr and MARKER not in run.stdout  # logs: ids, counts, reasons; never text

    events = json.loads(events_file.read_text())
    assert events["pickle.find_class"] == []
    opened = set(events["artifact_opens"])
    assert "manifest.json" in opened and any(path.endswith(".onnx") for path in opened)
    assert {Path(path).suffix for path in opened} <= {".onnx", ".data", ".json"}, opened
