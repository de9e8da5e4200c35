"""Urgency evidence: the signals of data/urgency.json (outage, security, data loss, deadlines,
blocked users, waiting, a workaround…), matched in the ticket's text.

The rules are data a user can edit. They do not set the level themselves: they are features of
the urgency model (runtime/urgency_model.py), and the ones that fired are listed in the output
as the explanation of its level.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import RuntimeArtifactError


@dataclass(frozen=True)
class Signal:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()  # it does not fire when any of these match
    # a match inside a match of one of these does not count ("on Monday" in "was due on Monday"),
    # while another match in the same ticket still does ("the wedding is on Saturday")
    not_within: tuple[re.Pattern[str], ...] = ()

    def fires(self, text: str) -> bool:
        if any(p.search(text) for p in self.unless):
            return False
        if not self.not_within:
            return any(p.search(text) for p in self.patterns)
        spans = [m.span() for p in self.not_within for m in p.finditer(text)]
        return any(not any(start <= m.start() and m.end() <= end for start, end in spans)
                   for p in self.patterns for m in p.finditer(text))


@dataclass(frozen=True)
class Urgency:
    level: str
    signals: tuple[str, ...]  # what fired (and the stated priority): the explanation of the level
    confidence: float = 1.0
    uncertain: bool = False


@dataclass(frozen=True)
class UrgencyRules:
    levels: tuple[str, ...]
    signals: tuple[Signal, ...]
    combinations: tuple[tuple[str, frozenset[str]], ...]  # (name, signals that must all fire)
    sha256: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every feature the rules can fire, in a fixed order: signals, then combinations."""
        return tuple(s.name for s in self.signals) + tuple(name for name, _ in self.combinations)

    def fired(self, text: str) -> tuple[str, ...]:
        lowered = text.lower()
        hits = [signal.name for signal in self.signals if signal.fires(lowered)]
        hit_set = set(hits)
        return tuple(hits) + tuple(name for name, required in self.combinations if required <= hit_set)


def load_rules(path: str | Path) -> UrgencyRules:
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
        raw = json.loads(raw_bytes)
        levels = tuple(raw["levels"])
        if len(levels) < 2 or len(set(levels)) != len(levels):
            raise ValueError("levels must name at least two distinct levels")
        signals = tuple(
            Signal(
                name=item["name"],
                patterns=tuple(re.compile(p) for p in item["patterns"]),
                unless=tuple(re.compile(p) for p in item.get("unless", ())),
                not_within=tuple(re.compile(p) for p in item.get("not_within", ())),
            )
            for item in raw["signals"]
        )
        names = [s.name for s in signals]
        if len(set(names)) != len(names):
            raise ValueError("two signals share a name")
        combinations = tuple((item["name"], frozenset(item["all"])) for item in raw.get("combinations", []))
        for name, required in combinations:
            if not required <= set(names):
                raise ValueError(f"combination {name!r} needs unknown signals {sorted(required - set(names))}")
        return UrgencyRules(levels=levels, signals=signals, combinations=combinations,
                            sha256=hashlib.sha256(raw_bytes).hexdigest())
    except (OSError, ValueError, KeyError, TypeError, re.error) as exc:
        raise RuntimeArtifactError(f"urgency rules {path} are invalid ({type(exc).__name__}: {exc})") from exc
