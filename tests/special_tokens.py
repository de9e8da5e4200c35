"""Tickets that hold every special token of the three tokenizers, typed by a customer, in the
subject and in the body (tests/parity/test_special_tokens.py, tests/unit/test_enrich_cmd.py,
tests/integration/test_seed_and_special_tickets.py)."""

from __future__ import annotations

# BERT WordPiece (MiniLM, DistilBERT) and BART BPE special tokens.
SPECIALS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<s>", "</s>", "<pad>", "<unk>", "<mask>")
_BODY = ("I was charged twice for my subscription this month and the second payment still shows as pending. "
         "Please refund the duplicate charge and confirm by email once it is done, thank you. ")


def special_tickets() -> list[dict[str, str]]:
    """Each special token in the subject and, separately, in a body long enough to be summarized."""
    tickets = []
    for index, token in enumerate(SPECIALS):
        tickets.append({"ticket_id": f"SUBJ-{index}", "subject": f"Refund {token} please", "body": _BODY * 2})
        tickets.append({"ticket_id": f"BODY-{index}", "subject": "Refund",
                        "body": f"{token} {_BODY}{token}{_BODY}ends with {token}"})
    return tickets
