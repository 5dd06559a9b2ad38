"""A built batch: its request lines, as bytes or a file."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..providers import Prompt

#: one shared encoder: ``json.dumps`` with options builds a new encoder for every line.
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class BatchRequests:
    """Request lines built for one provider, in memory until written or submitted.

    ``prompts`` maps each custom_id to its messages (kept for ``retry_failed``). The lines
    share the values every line repeats (the response format and its schema): copy a line
    before changing those in place.
    """

    provider: str
    model: str
    lines: list[dict[str, Any]]
    custom_ids: list[str]
    prompts: dict[str, Any] | None = None
    path: Path | None = None
    _encoded: list[bytes] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.lines)

    def encoded_lines(self) -> list[bytes]:
        """Each line as compact UTF-8 JSON, without the newline."""
        if len(self._encoded) != len(self.lines):
            encode = _compact_json
            self._encoded = [encode(line).encode() for line in self.lines]
        return self._encoded

    def to_bytes(self) -> bytes:
        lines = self.encoded_lines()
        return b"\n".join(lines) + b"\n" if lines else b""

    def to_bytesio(self) -> io.BytesIO:
        return io.BytesIO(self.to_bytes())

    def write(self, path: str | Path) -> Path:
        """Write exactly one JSONL file at ``path``."""
        path = Path(path)
        with path.open("wb") as out:
            for line in self.encoded_lines():
                out.write(line)
                out.write(b"\n")
        self.path = path
        return path


Source = BatchRequests | Sequence[Prompt] | str | Path | io.IOBase | bytes
