"""What one replayed request costs: matching compares precomputed keys, builds a diff only to
explain a miss, and an unchanged cassette is parsed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_batch.cassettes import format as cassette_format
from pytest_batch.cassettes import matching, persist
from pytest_batch.cassettes import CassetteMismatch, use_cassette

from .conftest import client_for, openai_lines, run_openai

NODEID = "tests/test_extract.py::test_users[openai]"


def _record(server, cassette: Path) -> dict:
    with use_cassette(cassette, mode="record", provider="openai", model="gpt-4o-mini", nodeid=NODEID):
        return run_openai(client_for("openai", server.base_urls["openai"]))


def _replay(cassette: Path) -> dict:
    with use_cassette(cassette, mode="replay", provider="openai", model="gpt-4o-mini", nodeid=NODEID) as session:
        outcome = run_openai(client_for("openai"))
    outcome["interactions"] = len(session.cassette.data)
    return outcome


class _Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
        self.calls = 0
        real = getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, staticmethod(counted) if isinstance(module, type) else counted)


def test_a_replay_that_matches_builds_no_diff_and_parses_each_body_once(server, cassette, monkeypatch):
    recorded = _record(server, cassette)
    server.stop()
    persist._LOADED.clear()
    diffs = _Counter(monkeypatch, matching, "view_text")
    views = _Counter(monkeypatch, matching, "body_view")
    replayed = _replay(cassette)
    assert replayed["users"] == recorded["users"]
    assert diffs.calls == 0, "a diff is only for the mismatch message"
    # each stored request's body once, and each request the test sent once (its view is
    # computed once even though vcrpy asks can_play_response_for and then play_response)
    sent = 4 + len(replayed["states"])  # upload, create, the polls, retrieve, the result download
    assert views.calls <= replayed["interactions"] + sent, views.calls


def test_a_miss_still_shows_the_body_diff(server, cassette):
    _record(server, cassette)
    server.stop()
    with pytest.raises(CassetteMismatch) as info:
        with use_cassette(cassette, mode="replay", provider="openai", model=None, nodeid=NODEID):
            client_for("openai").files.create(file=("in.jsonl", openai_lines(["a different prompt"])),
                                              purpose="batch")
    message = str(info.value)
    assert "Difference:" in message and '+                "content": "a different prompt",' in message


def test_an_unchanged_cassette_is_parsed_once_and_any_edit_is_seen(server, cassette, monkeypatch):
    recorded = _record(server, cassette)
    server.stop()
    persist._LOADED.clear()
    parses = _Counter(monkeypatch, cassette_format.CassetteSerializer, "deserialize")
    assert _replay(cassette)["users"] == recorded["users"]
    assert _replay(cassette)["users"] == recorded["users"]
    assert parses.calls == 1

    # an edit in place, same size, possibly within the file system's mtime resolution
    text = cassette.read_text()
    at = text.rindex("Alice")  # in the recorded results, the last interaction
    edited = text[:at] + "Alicf" + text[at + 5:]
    assert edited != text and len(edited) == len(text)
    cassette.write_text(edited)
    users = _replay(cassette)["users"]
    assert parses.calls == 2
    assert users[0].name == "Alicf"
