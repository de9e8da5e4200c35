"""`ticket-enrich worker` under a Python audit hook (PEP 578), for the security tests: it records
every unpickling lookup (`pickle.find_class`, raised by pickle, numpy object arrays and
torch.load alike) and every file opened under the artifacts folder, and writes them as JSON
to --events when the worker exits. The worker code is unchanged.

    python audited_worker.py --events events.json -- [worker flags]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", required=True, type=Path)
    own, rest = parser.parse_known_args()
    artifacts = str(Path(os.environ.get("TICKET_ENRICH_ARTIFACTS", "artifacts")).resolve())
    events: dict[str, list[str]] = {"pickle.find_class": [], "artifact_opens": []}

    def hook(event: str, args: tuple) -> None:
        if event == "pickle.find_class":
            events[event].append(".".join(str(a) for a in args))
        elif event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if os.path.abspath(path).startswith(artifacts):
                events["artifact_opens"].append(os.path.relpath(os.path.abspath(path), artifacts))

    sys.addaudithook(hook)
    from worker import cli

    worker_parser = argparse.ArgumentParser()
    cli.add_arguments(worker_parser)
    try:
        return cli.run(worker_parser.parse_args([a for a in rest if a != "--"]))
    finally:
        own.events.write_text(json.dumps(events))


if __name__ == "__main__":
    sys.exit(main())
