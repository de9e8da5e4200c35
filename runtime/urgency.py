"""Urgency: low | medium | high | critical, from the intent, the customer's stated priority,
the sentiment and explicit signals in the text. The rules are data (data/urgency.json); the
output lists every signal and modifier that moved the level."""

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
    floor: int | None = None  # the level is at least this
    step: int = 0  # or it moves this many levels
    max_level: int | None = None  # a step never lifts past this
    cap: int | None = None  # a calm signal: at most this, when no floor fired
    unless: tuple[re.Pattern[str], ...] = ()  # it does not fire when any of these match

    def fires(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns) and not any(p.search(text) for p in self.unless)


@dataclass(frozen=True)
class Urgency:
    level: str
    signals: tuple[str, ...]


@dataclass(frozen=True)
class UrgencyRules:
    levels: tuple[str, ...]
    default: int
    intent_baseline: dict[str, int]
    sentiment: dict[str, tuple[float, int, int]]  # label -> (min_score, step, max_level)
    floor_below: int  # a stated priority floors the level this many levels below it
    step_down: int
    signals: tuple[Signal, ...]
    combinations: tuple[tuple[str, frozenset[str], int], ...]  # (name, signals that must all fire, floor)
    sha256: str

    def level_index(self, name: str) -> int:
        return self.levels.index(name)

    def assess(self, text: str, intent: str | None, sentiment: tuple[str, float] | None,
               stated_priority: str | None) -> Urgency:
        fired: list[str] = []
        level = self.intent_baseline.get(intent or "", self.default)
        top = len(self.levels) - 1

        stated = self.level_index(stated_priority) if stated_priority in self.levels else None
        if stated is not None and stated - self.floor_below > level:
            level = stated - self.floor_below
            fired.append(f"stated_priority:{stated_priority}")

        if sentiment and sentiment[0] in self.sentiment:
            min_score, step, max_level = self.sentiment[sentiment[0]]
            if sentiment[1] >= min_score:
                moved = max(0, min(level + step, max(level, max_level)))
                if moved != level:
                    fired.append(f"sentiment:{sentiment[0].lower()}")
                    level = moved

        lowered = text.lower().strip()
        hits = [signal for signal in self.signals if signal.fires(lowered)]
        floors = [s.floor for s in hits if s.floor is not None]
        for signal in hits:
            if signal.step:
                limit = top if signal.max_level is None else max(level, signal.max_level)
                level = min(level + signal.step, limit)
            fired.append(signal.name)
        names = {s.name for s in hits}
        for name, required, floor in self.combinations:
            if required <= names:
                floors.append(floor)
                fired.append(name)
        if floors:
            level = max(level, *floors)
        else:
            if stated is not None and stated < level:
                level = max(stated, level - self.step_down)
                fired.append(f"stated_priority:{stated_priority}")
            for signal in hits:
                if signal.cap is not None:
                    level = min(level, signal.cap)
        return Urgency(self.levels[max(0, min(level, top))], tuple(fired))


def load_rules(path: str | Path) -> UrgencyRules:
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
        raw = json.loads(raw_bytes)
        levels = tuple(raw["levels"])
        index = {name: i for i, name in enumerate(levels)}

        def level(name: str) -> int:
            if name not in index:
                raise ValueError(f"unknown level {name!r}; levels are {', '.join(levels)}")
            return index[name]

        def optional_level(name: str | None) -> int | None:
            return None if name is None else level(name)

        signals = tuple(
            Signal(
                name=item["name"],
                patterns=tuple(re.compile(p) for p in item["patterns"]),
                floor=optional_level(item.get("floor")),
                step=int(item.get("step", 0)),
                max_level=optional_level(item.get("max_level")),
                cap=optional_level(item.get("cap")),
                unless=tuple(re.compile(p) for p in item.get("unless", ())),
            )
            for item in raw["signals"]
        )
        return UrgencyRules(
            levels=levels,
            default=level(raw.get("default_level", levels[1])),
            intent_baseline={k: level(v) for k, v in raw.get("intent_baseline", {}).items()},
            sentiment={
                label: (float(v["min_score"]), int(v["step"]), level(v.get("max_level", levels[-1])))
                for label, v in raw.get("sentiment", {}).items()
            },
            floor_below=int(raw.get("stated_priority", {}).get("floor_below", 1)),
            step_down=int(raw.get("stated_priority", {}).get("step_down", 1)),
            signals=signals,
            combinations=tuple(
                (item["name"], frozenset(item["all"]), level(item["floor"])) for item in raw.get("combinations", [])
            ),
            sha256=hashlib.sha256(raw_bytes).hexdigest(),
        )
    except (OSError, ValueError, KeyError, TypeError, re.error) as exc:
        raise RuntimeArtifactError(f"urgency rules {path} are invalid ({type(exc).__name__}: {exc})") from exc
