"""The README's answers stay true: its input-schema table is the schema's own (ticket_schema.fields),
and the facts it quotes from the code match the code."""

from __future__ import annotations

import re
from pathlib import Path

from runtime.ticket import MAX_TEXT_CHARS
from ticket_schema import TicketIn
from ticket_schema.fields import FIELDS, MAX_TICKET_BYTES, MODELS_READ_CHARS, fields_markdown

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_input_schema_table_is_generated_from_the_schema():
    block = re.search(r"<!-- input-schema:start -->\n(.*?)\n<!-- input-schema:end -->", README, re.S)
    assert block, "README.md lost its input-schema markers"
    assert block.group(1) == fields_markdown(), "README.md's schema is stale: paste `python -m ticket_schema.fields`"


def test_the_field_list_covers_the_model_and_quotes_the_runtime():
    assert [doc.name for doc in FIELDS] == list(TicketIn.model_fields)
    assert MODELS_READ_CHARS == MAX_TEXT_CHARS  # what the models read of subject + body
    assert f"{MAX_TICKET_BYTES:,} bytes" in fields_markdown()


def test_the_readme_says_how_to_force_an_export_and_what_the_timings_are():
    assert "make export" in README and "FORCE=1" in README
    assert "make export … --force" not in README
    assert "`timings_ms` is the ticket's **share** of its batch" in README
    assert "make show ID=" in README and "make aws-down" in README
