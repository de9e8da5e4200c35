"""The performance suite: our runtime against PyTorch eager and its peers, in the same run.

`pytest benchmarks/` (or `make bench`) measures; `python -m benchmarks.check` compares the
results' ratios with the committed baseline; `python -m benchmarks.chart` draws docs/performance.png;
`python -m benchmarks.report` prints the tables. Nothing here is imported by the runtime.
"""
