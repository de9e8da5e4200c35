"""The chaos run of `make chaos` (tools/chaos.py at the repository root), small enough for `make test`: tickets on the
emulator while the worker is SIGKILLed at least three times mid-work and restarted, then drained. Every
ticket ends as exactly one record, no good ticket reaches the DLQ, and the journal shows the
redeliveries the kills caused."""

from __future__ import annotations

from tools.chaos import ChaosConfig, run_chaos
from tools.rig import Rig


def test_sigkills_at_random_moments_lose_and_duplicate_nothing(clients, make_stack, aws_env, artifacts_dir, tmp_path):
    # Waves of 5 over 10 s, so that work keeps arriving for every kill; each kill is held until
    # the worker has a batch in hand.
    config = ChaosConfig(tickets=40, kills=3, bad_every=10, min_up_s=0.5, max_up_s=2.0, from_ready=True,
                         mid_batch=True, upload_seconds=10.0, wave=5, visibility_timeout=4, seed=11,
                         drain_timeout_s=180)
    rig = Rig(clients, make_stack(visibility_timeout=config.visibility_timeout), dict(aws_env))
    summary = run_chaos(rig, artifacts_dir, config, tmp_path, say=lambda _line: None)

    account = summary["account"]
    assert summary["kills"] >= 3 and summary["early_exits"] == []
    assert (account["good"], account["malformed"]) == (36, 4)
    assert account["lost"] == 0 and account["duplicated"] == 0 and account["missing_objects"] == []
    assert (account["enriched"], account["rejected"]) == (36, 4)
    assert account["dlq_total"] == 0 and account["queue"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    # Killed mid-work: messages came back (received more often than deleted), and every
    # enriched record has at least one enrichment run behind it.
    assert any(phase.startswith("in batch") for phase in summary["kill_phases"]), summary["kill_phases"]
    assert summary["messages_received"] > summary["messages_deleted"]
    assert summary["enrichment_runs_started"] >= summary["enrichment_runs"] >= account["enriched"]
    assert summary["ok"]
