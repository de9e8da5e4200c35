"""Operator tools run from the repository root, not shipped in the package: the long
reliability drivers (`make chaos`, `make load`, `python -m tools.fuzz`) and the rig they share
(tools/rig.py: a private moto server, fresh resources, worker processes, the final account).
docs/RELIABILITY.md describes the runs and their results."""
