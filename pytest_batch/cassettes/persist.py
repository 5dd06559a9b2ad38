"""Reading and writing cassette files: polls collapsed, secrets refused, files replaced atomically."""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .errors import CassetteError, CassetteUnreadable
from .format import CassetteFormatError
from .scrub import (
    find_secrets,
)

_POLLING = ("GET", "HEAD")


def _collapse_polls(requests: list[Any], responses: list[Any]) -> tuple[list[Any], list[Any]]:
    """Drop a GET whose response equals the last kept response for the same URL."""
    kept_requests, kept_responses = [], []
    last: dict[tuple[str, str], Any] = {}
    for request, response in zip(requests, responses, strict=True):
        key = (request.method, request.uri)
        if request.method in _POLLING and key in last:
            previous = last[key]
            if (previous["status"]["code"] == response["status"]["code"]
                    and previous["body"].get("string") == response["body"].get("string")):
                continue
        last[key] = response
        kept_requests.append(request)
        kept_responses.append(response)
    return kept_requests, kept_responses


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and ``os.replace``: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, _file_mode())  # mkstemp's 0600 would make the cassette private to its recorder
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def refuse_if_secret(path: Path, text: str) -> None:
    findings = find_secrets(text)
    if findings:
        listed = "; ".join(str(f) for f in findings[:5])
        raise CassetteError(
            f"pytest-batch refused to write cassette {path}: it would contain {listed}. Nothing was written; "
            "remove the key from the request/response (or unset the env var it matched) and record again.")


#: the last cassettes read, by path, with the text they were parsed from: replaying one cassette
#: again (tests sharing it, reruns) reads the file (microseconds) but skips the YAML (milliseconds).
#: Keyed by content, not mtime, so an edit is always seen. Least recently used first.
_LOADED: OrderedDict[str, tuple[str, Any]] = OrderedDict()
_LOADED_MAX = 32


class AtomicPersister:
    """vcrpy persister: polls collapsed, secrets refused, files replaced atomically."""

    @classmethod
    def load_cassette(cls, cassette_path: str | Path, serializer: Any) -> Any:
        """vcrpy's ``(requests, responses[, metadata])``, parsed once per distinct text of the file.

        Sharing a parse is safe: vcrpy copies each request and response (``before_record_*``)
        before it keeps them, and the metadata is copied here."""
        from vcr.persisters.filesystem import CassetteNotFoundError
        from vcr.serialize import deserialize

        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:  # vcrpy would replay it as an empty cassette
            raise CassetteUnreadable(path, f"it is not UTF-8 text ({err.reason} at byte {err.start})") from None
        if not text.strip():  # as vcrpy: an empty file is a missing cassette
            raise CassetteNotFoundError()
        key = str(path)
        cached = _LOADED.get(key)
        if cached is not None and cached[0] == text:
            _LOADED.move_to_end(key)
            loaded = cached[1]
        else:
            try:
                loaded = deserialize(text, serializer)
            except CassetteFormatError as err:
                raise CassetteUnreadable(path, str(err)) from None
            _LOADED[key] = (text, loaded)
            while len(_LOADED) > _LOADED_MAX:
                _LOADED.popitem(last=False)
        return tuple(list(part) if isinstance(part, list) else copy.deepcopy(part) for part in loaded)

    @staticmethod
    def save_cassette(cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any) -> None:
        from vcr.serialize import serialize

        requests, responses = _collapse_polls(cassette_dict["requests"], cassette_dict["responses"])
        text = serialize({**cassette_dict, "requests": requests, "responses": responses}, serializer)
        path = Path(cassette_path)
        refuse_if_secret(path, text)
        write_atomically(path, text)
