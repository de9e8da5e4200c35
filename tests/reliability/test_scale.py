"""The scale-out run of `make scale` (tools/scale.py), small enough for `make test`: a few hundred
tickets (malformed ones, duplicates uploaded twice, a poison message) on up to two workers that a
simulation of the KEDA ScaledObject starts and stops, in fast motion; a pod SIGKILLed now and then,
a DynamoDB outage, a redrive at the end. Every ticket ends as exactly one record, each record and
each document written once, and only the poison message is left in the dead-letter queue."""

from __future__ import annotations

from tools.rig import Rig
from tools.scale import ScaleConfig, run_scale


def test_workers_scaled_by_keda_lose_and_duplicate_nothing(clients, make_stack, aws_env, artifacts_dir, tmp_path):
    config = ScaleConfig(tickets=160, bad_every=20, duplicate_every=10, duplicate_delay_s=(1.0, 8.0), poison=1,
                         phases=((4, 0.3), (3, 0.4), (8, 0.0), (6, 0.3)), time_factor=0.05, max_pods=2,
                         queue_length=8, visibility_timeout=2, kill_fraction=0.5, crash_every_s=15.0,
                         outage=(8.0, 8.0), seed=3, drain_timeout_s=240)
    rig = Rig(clients, make_stack(visibility_timeout=config.visibility_timeout), dict(aws_env))
    summary = run_scale(rig, artifacts_dir, config, tmp_path, say=print)

    account, redeliveries = summary["account"], summary["redeliveries"]
    assert (account["good"], account["malformed"]) == (152, 8)
    assert (account["enriched"], account["rejected"]) == (152, 8)
    assert account["lost"] == 0 and account["duplicated"] == 0 and account["missing_objects"] == []
    assert account["uploaded_twice"] == 15
    assert (account["dlq_total"], account["dlq_good"]) == (1, 0), "only the poison message is left"
    assert redeliveries["record_writes"] == 160 and redeliveries["documents_written"] == 152
    assert summary["redrives"][0]["moved"] >= 1
    # KEDA's simulation scaled up to the ceiling and back, and pods went both ways.
    assert summary["pods"]["peak"] == 2
    assert any(d["by"] == "keda: activated" for d in summary["keda"]["decisions"])
    assert summary["pods"]["events"].get("drained", 0) >= 1
    assert summary["checks"] == {name: True for name in summary["checks"]}
    assert summary["ok"]
