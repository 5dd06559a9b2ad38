"""Deterministic ids in each provider's observed format (wire-formats.md A.3, B.2, C.3)."""

from __future__ import annotations

import random
import string

_HEX = "0123456789abcdef"
_BASE62 = string.digits + string.ascii_letters
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_LOWER36 = string.digits + string.ascii_lowercase


def _table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


_TABLES = {alphabet: _table(alphabet) for alphabet in (_HEX, _BASE62, _BASE58, _LOWER36, _BASE62 + "_-")}


def bare_id(batch_id: str) -> str:
    """A batch id from an id or a resource name: Gemini names its batches ``batches/{id}``
    (wire-formats.md C.3), and control calls accept either form."""
    return batch_id.rpartition("/")[2]


class IdFactory:
    """Same seed, same sequence of ids: two runs of a test see identical ids."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(f"pytest-batch-ids:{seed}")

    def _pick(self, alphabet: str, n: int) -> str:
        # random bytes mapped through a 256-entry table: a big batch makes several ids per
        # request, and this is ~10x faster than random.choices (a slight bias is harmless).
        return self._random.randbytes(n).translate(_TABLES[alphabet]).decode("ascii")

    def hex(self, n: int) -> str:
        return f"{self._random.getrandbits(4 * n):0{n}x}"

    # OpenAI
    def openai_batch(self) -> str:
        return "batch_" + self.hex(32)

    def openai_file(self) -> str:
        return "file-" + self._pick(_BASE62, 22)

    def openai_batch_request(self) -> str:
        return "batch_req_" + self.hex(32)

    def openai_request(self) -> str:
        return "req_" + self.hex(32)

    def openai_chat_completion(self) -> str:
        return "chatcmpl-" + self._pick(_BASE62, 29)

    def openai_response(self) -> str:
        return "resp_" + self.hex(48)

    def openai_message(self) -> str:
        return "msg_" + self.hex(48)

    # Azure OpenAI (the batch guide's examples: docs/azure-batch.md)
    def uuid(self) -> str:
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"

    def azure_batch(self) -> str:
        return "batch_" + self.uuid()

    def azure_file(self) -> str:
        """An uploaded file: ``file-`` and 32 hex digits."""
        return "file-" + self.hex(32)

    def azure_output_file(self) -> str:
        """A file a batch wrote: ``file-`` and a UUID."""
        return "file-" + self.uuid()

        # Anthropic
    def anthropic_batch(self) -> str:
        return "msgbatch_01" + self._pick(_BASE58, 22)

    def anthropic_message(self) -> str:
        return "msg_01" + self._pick(_BASE58, 22)

    def anthropic_tool_use(self) -> str:
        return "toolu_01" + self._pick(_BASE58, 22)

    def anthropic_request(self) -> str:
        return "req_011" + self._pick(_BASE58, 21)

    # Google
    def google_batch(self) -> str:
        return self._pick(_LOWER36, 40)

    def google_file(self) -> str:
        return self._pick(_LOWER36, 12)

    def google_upload(self) -> str:
        return "AU" + self._pick(_BASE62 + "_-", 70)

    def google_response(self) -> str:
        return self._pick(_BASE62, 22)
