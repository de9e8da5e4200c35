"""The `ticket-enrich` command: one entry point, one subcommand per package.

Each subcommand lives beside the code it drives (export/cli.py, runtime/cli.py,
worker/cli.py) and imports its heavy dependencies only when it runs, so that
`ticket-enrich enrich` never loads torch and `ticket-enrich export` never loads boto3.
"""
