"""The `ticket-enrich` command: one entry point, one subcommand per package.

`export` and `worker` / `aws` live beside the code they drive (export/cli.py, worker/cli.py,
worker/aws_cli.py); `enrich`, which drives the runtime directly, is ticket_enrich/enrich_cmd.py.
Each imports its heavy dependencies only when it runs, so that `ticket-enrich enrich` never
loads torch and `ticket-enrich export` never loads boto3. The input schema they share is
ticket_schema/, which depends on neither.
"""
