"""A record of every call the emulator answered, without headers (they carry keys)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class JournalEntry:
    provider: str
    method: str
    path: str
    query: dict[str, str]
    status: int
    at: float
    fault: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Journal(list[JournalEntry]):
    def calls(self, provider: str | None = None, method: str | None = None,
              path_contains: str | None = None) -> list[JournalEntry]:
        return [
            e for e in self
            if (provider is None or e.provider == provider)
            and (method is None or e.method == method.upper())
            and (path_contains is None or path_contains in e.path)
        ]
