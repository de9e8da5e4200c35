"""`--help` answers a newcomer's questions: what the tool does, what every command and `aws`
action does (and that `reset` deletes data), which fields a ticket has and what each exit status
means. Run as a user runs them, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ticket_enrich.cli import SUBCOMMANDS, build_parser
from ticket_schema.fields import FIELDS, PRIORITY_ALIASES

REPO = Path(__file__).resolve().parents[2]
TICKET_ENRICH = str(Path(sys.executable).with_name("ticket-enrich"))


def help_text(*args: str) -> str:
    result = subprocess.run([TICKET_ENRICH, *args, "--help"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return result.stdout


def description(text: str) -> str:
    """The paragraph between the usage lines and the first list of arguments."""
    body = text.split("\n\n", 1)[1]
    return body.split("\npositional arguments:", 1)[0].split("\noptions:", 1)[0].strip()


def aws_actions() -> dict[str, object]:
    [aws] = [a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "aws"]
    return aws[1]._subparsers._group_actions[0].choices


def test_the_top_level_says_what_the_tool_does():
    text = help_text()
    said = description(text)
    assert "customer-support tickets" in said and "Dispatch" not in said
    for name in SUBCOMMANDS:
        assert name in text
    assert "make run" in text


@pytest.mark.parametrize("command", [name for name in SUBCOMMANDS if name != "aws"])
def test_every_command_has_a_description(command):
    assert len(description(help_text(command))) > 20


def test_every_aws_action_is_listed_and_described():
    actions = aws_actions()
    assert {"setup", "seed", "status", "reset", "fetch-artifacts", "show"} <= set(actions)
    listing = help_text("aws")
    for name in actions:
        assert name in listing
        said = description(help_text("aws", name))
        assert len(said) > 40, (name, said)
    assert "DELETE" in description(help_text("aws", "reset"))
    assert "delete" in listing.lower()  # the one-line listing says it too


def test_enrich_help_lists_the_input_fields_and_the_exit_codes():
    from ticket_schema import TicketIn

    text = help_text("enrich")
    assert {doc.name for doc in FIELDS} == set(TicketIn.model_fields)  # the list cannot miss a field
    for name in TicketIn.model_fields:
        assert f"  {name} (" in text
    for spelling in PRIORITY_ALIASES:
        assert spelling in text
    assert "epoch seconds" in text and "ISO 8601" in text
    for code in ("0  every line was enriched", "1  the run finished", "2  the run could not start"):
        assert code in text
