"""What the offline sentiment reads: the newest message (docs/LABELLING.md), not quoted history,
forwarded messages or signatures."""

import pytest

from runtime.confidence import newest_message


@pytest.mark.parametrize(
    ("text", "newest"),
    [
        ("Thanks, the unlock worked and I'm back in.\n\nOn Tue, 4 Jun at 09:12, Sam wrote:\n> This is ridiculous!!",
         "Thanks, the unlock worked and I'm back in."),
        ("Just to confirm, the next invoice is 89?\n> The change reflects the new plan.\n>> Why did my bill go up?!",
         "Just to confirm, the next invoice is 89?"),
        ("Please look into this today.\n\n---------- Forwarded message ---------\nFrom: Pieter\nI can't log in, useless.",
         "Please look into this today."),
        ("The export works again, thank you.\n--\nJane Doe | Acme Ltd\nThis email may contain confidential information.",
         "The export works again, thank you."),
        ("Nothing quoted here. Just a plain ticket.", "Nothing quoted here. Just a plain ticket."),
    ],
)
def test_the_newest_message_is_read(text, newest):
    assert newest_message(text) == newest


def test_a_forward_with_nothing_added_is_read_whole():
    """Under three words of the customer's own before the history: the history is all there is."""
    text = "Fwd: login broken.\n---------- Forwarded message ---------\nFrom: Chen\nNobody can log in since 9am."
    assert newest_message(text) == text
