"""Operator tools run from the repository root, not shipped in the package: the long
reliability drivers (`make chaos`, `make load`, `make scale`, `make crashloop`,
`python -m tools.fuzz`) and the rig they share (tools/rig.py: a private moto server, fresh
resources, worker processes, the final account); the KEDA simulation (tools/keda.py), the
throughput measurement and the capacity plan (`make throughput`, `make capacity`).
docs/RELIABILITY.md and docs/CAPACITY.md describe the runs and their results."""
