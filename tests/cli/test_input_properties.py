"""Property-based tests of what the CLI reads from the user: any messages file and any --model
string is either read correctly or refused with one CLIError line, never another exception
(a traceback) nor a message that spans lines. Bounded to run in about a second."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_batch.cli.inputs import read_messages
from pytest_batch.cli.target import MODEL_NAME_CHARACTERS, CLIError, parse_model
from pytest_batch.endpoints import PROVIDERS
from pytest_batch.providers import ROLES

BOUNDED = settings(max_examples=40, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])

#: the characters text is drawn from: printable ASCII and those that break readers and error lines
#: (line separators str.splitlines() splits at, a byte-order mark, C0 and C1 controls, a no-break
#: space, non-ASCII letters and an emoji). Drawing from all of Unicode first builds a table of it
#: (seconds), which a test this size cannot afford.
_CHARACTERS = st.sampled_from([*string.printable, "\u2028", "\u2029", "\x85", "\x1c", "\x0b", "\ufeff", "\x00",
                               "\x1b", "\x9b", "\xa0", "é", "о", "日", "😀"])
_TEXT = st.text(alphabet=_CHARACTERS, max_size=20)


def _one_line(error: CLIError) -> str:
    line = error.line()
    assert len(line.splitlines()) == 1 and line == line.strip(), repr(line)
    assert all(char.isprintable() for char in line), repr(line)  # no terminal control, no U+2028
    return line


def _read(tmp_path: Path, data: bytes) -> object:
    path = tmp_path / "messages.jsonl"
    path.write_bytes(data)
    try:
        return read_messages(path)
    except CLIError as error:
        return _one_line(error)


# --------------------------------------------------------------------------- messages files
@BOUNDED
@given(data=st.binary(max_size=200))
@example(data=b"\xef\xbb\xbf\"hi\"\n")
@example(data=b"[" * 100_000)  # json raised RecursionError
@example(data=b"1" * 5_000)  # json raised ValueError (too many digits for an int)
@example(data=b'{"messages": [{"role": "user", "content": "\\u0085\\u2028"}], "x": 1}\n{"messages": 1}')
@example(data=b'"\\ud800"')  # half a surrogate pair: no provider can be sent it
def test_any_bytes_are_read_or_refused_in_one_line(tmp_path, data):
    outcome = _read(tmp_path, data)
    if not isinstance(outcome, str):
        assert outcome.requests and all(outcome.requests)


@st.composite
def _message_rows(draw):
    """A well-formed line's value: a prompt, {"prompt"} or {"messages"}, maybe with a custom_id."""
    text = st.text(alphabet=_CHARACTERS, min_size=1, max_size=20)  # U+2028, U+0085, "\r" inside JSON strings too
    form = draw(st.sampled_from(["string", "prompt", "messages"]))
    if form == "string":
        prompt = draw(text)
        return prompt, prompt
    custom_id = draw(st.none() | text)
    if form == "prompt":
        prompt = draw(text)
        row, request = {"prompt": prompt}, prompt
    else:
        messages = draw(st.lists(st.fixed_dictionaries({"role": st.sampled_from(ROLES), "content": _TEXT}),
                                 min_size=1, max_size=3))
        row, request = {"messages": messages}, messages
    if custom_id is not None:
        row["custom_id"] = custom_id
    return row, request


@BOUNDED
@given(rows=st.lists(_message_rows(), min_size=1, max_size=4), bom=st.booleans(), crlf=st.booleans(),
       ascii_only=st.booleans(), blank=st.sampled_from(["", " ", "\t", "  \r"]))
def test_well_formed_files_read_back_exactly(tmp_path, rows, bom, crlf, ascii_only, blank):
    end = "\r\n" if crlf else "\n"
    lines = [json.dumps(row, ensure_ascii=ascii_only) for row, _ in rows]
    text = end.join(line + end + blank for line in lines)
    outcome = _read(tmp_path, (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    given_ids = [row.get("custom_id") if isinstance(row, dict) else None for row, _ in rows]
    filled = [cid if cid is not None else f"request-{number}" for number, cid in enumerate(given_ids, 1)]
    if any(cid is not None for cid in given_ids) and len(set(filled)) != len(filled):
        assert isinstance(outcome, str) and ("already used" in outcome or "give every line a custom_id" in outcome)
        return
    assert not isinstance(outcome, str), outcome
    assert outcome.requests == [request for _, request in rows]
    assert outcome.custom_ids == (filled if any(cid is not None for cid in given_ids) else None)


@BOUNDED
@given(values=st.lists(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
                                    lambda inner: st.lists(inner, max_size=3)
                                    | st.dictionaries(st.sampled_from(["prompt", "messages", "custom_id", "role",
                                                                       "content", "x"]), inner, max_size=3),
                                    max_leaves=8), min_size=1, max_size=4))
def test_any_json_lines_are_read_or_refused_in_one_line(tmp_path, values):
    text = "\n".join(json.dumps(value, ensure_ascii=False) for value in values)
    _read(tmp_path, text.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- --model
def _parse(model: str) -> tuple[str, str] | str:
    try:
        return parse_model(model)
    except CLIError as error:
        assert error.code == 2
        return _one_line(error)


@BOUNDED
@given(model=_TEXT | st.builds(lambda provider, name: f"{provider}/{name}",
                               st.sampled_from([*PROVIDERS, "", "x", "Openai"]), _TEXT))
@example(model="openai/gpt 4o")
@example(model="x\ny/z")
@example(model="openai/gpt-4o\u2028")
def test_any_model_string_is_parsed_or_refused_in_one_line(model):
    outcome = _parse(model)
    if isinstance(outcome, str):
        return
    provider, name = outcome
    assert provider in PROVIDERS and f"{provider}/{name}" == model
    assert set(name) <= MODEL_NAME_CHARACTERS and "" not in name.split("/")


_NAME_PART = st.text(alphabet=sorted(MODEL_NAME_CHARACTERS - {"/"}), min_size=1, max_size=12)


@BOUNDED
@given(provider=st.sampled_from(list(PROVIDERS)), parts=st.lists(_NAME_PART, min_size=1, max_size=3))
def test_every_name_made_of_the_providers_characters_is_accepted(provider, parts):
    name = "/".join(parts)
    assert _parse(f"{provider}/{name}") == (provider, name)


@pytest.mark.parametrize("model", ["openai/gpt 4o", "openai/gpt\t4o", "openai/\u00a0gpt-4o", "openai/gpt-4o;rm"])
def test_model_names_with_characters_no_provider_uses_are_refused(model):
    assert isinstance(_parse(model), str)
