"""Bad input for longer: the properties of tests/reliability/test_bad_input.py (properties.py)
with many more hypothesis examples, plus the fixed corpus, against validate_ticket and the real
Enricher. Counts what was tried and what became of it; exits 1 at the first input that ends as
anything but a rejection naming its reason or a correct enrichment (hypothesis then prints it).

    python -m tools.fuzz [--examples 2000] [--profile offline]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from tools.rig import REPO, machine_load

# The properties and the corpus are the reliability tests' own (tests/reliability): this runs them longer.
sys.path.insert(0, str(REPO / "tests" / "reliability"))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from properties import AWKWARD_TICKETS, BODIES, TICKET_DOCS, encode, settle  # noqa: E402

from runtime.errors import TicketRejected  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000, help="hypothesis examples per property")
    parser.add_argument("--profile", default="offline", choices=["offline", "full"])
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "test-artifacts")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "reliability" / "fuzz.json")
    args = parser.parse_args(argv)

    from corpus import CORPUS

    from runtime import Enricher, RuntimeConfig

    enricher = Enricher.from_artifacts(args.artifacts, RuntimeConfig(profile=args.profile))
    outcomes: dict[str, Counter] = {}

    def tally(name: str, outcome: object) -> None:
        key = f"rejected: {outcome.field}" if isinstance(outcome, TicketRejected) else "enriched"
        outcomes.setdefault(name, Counter())[key] += 1

    budget = settings(max_examples=args.examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))

    @budget
    @given(st.binary(max_size=4_000))
    def any_bytes(raw: bytes) -> None:
        tally("arbitrary bytes", settle(enricher, raw))

    @budget
    @given(TICKET_DOCS, st.sampled_from(["bytes", "ascii-bytes", "dict"]))
    def ticket_docs(document, form: str) -> None:
        tally("ticket-shaped documents", settle(enricher, encode(document, form)))

    @budget
    @given(AWKWARD_TICKETS, st.sampled_from(["bytes", "ascii-bytes", "dict"]))
    def awkward_tickets(document, form: str) -> None:
        tally("well-formed, awkward text", settle(enricher, encode(document, form)))

    @settings(budget, max_examples=max(args.examples // 10, 10))
    @given(BODIES)
    def any_text(body: str) -> None:
        tally("arbitrary text bodies", settle(enricher, {"ticket_id": "F-1", "body": body}))

    started = time.monotonic()
    for case in CORPUS:
        tally("fixed corpus", settle(enricher, case.raw))
    for run in (any_bytes, ticket_docs, awkward_tickets, any_text):
        run()
    summary = {
        "command": "python -m tools.fuzz " + " ".join(argv if argv is not None else sys.argv[1:]),
        "tried": sum(sum(c.values()) for c in outcomes.values()),
        "by_property": {name: dict(counter.most_common()) for name, counter in outcomes.items()},
        "failures": 0,  # any failure stops the run with hypothesis' minimal example and exit 1
        "elapsed_s": round(time.monotonic() - started, 1),
        "machine": machine_load(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    for name, counter in outcomes.items():
        enriched = counter.get("enriched", 0)
        print(f"{name:26s} {sum(counter.values()):6d} tried: {enriched} enriched, "
              f"{sum(counter.values()) - enriched} rejected ({len(counter) - (1 if enriched else 0)} distinct fields)")
    print(f"{'total':26s} {summary['tried']:6d} tried, 0 ended any other way; {summary['elapsed_s']} s; summary: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
