"""A cassette file that is no cassette (cut short, broken YAML, the wrong shape, not UTF-8): replay,
auto mode and the folder check name the file, say what is wrong and how to get a good one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_batch.cassettes import CassetteError, auto_mode, cassette_state, check_cassettes, use_cassette
from pytest_batch.cassettes.format import FOOTER, HEADER

from .conftest import PROMPTS, client_for, openai_poll, openai_submit

NODEID = "tests/test_extract.py::test_users[openai]"


def _cut_mid_line(text: str) -> str:
    """The file cut inside a line near its end, where what is left still parses as YAML."""
    return text[: text.rindex("\n", 0, len(text) - len(FOOTER) - 40) + 10]


BREAKAGES = {
    # what is done to a good cassette's text -> what the message must say
    "cut short, still YAML": (_cut_mid_line, "the file is cut short: it has no final '# end of cassette' line"),
    "cut short, broken YAML": (lambda text: text[: text.index("interactions:") + 200] + "\n  - [",
                               "the file is cut short"),
    # a cassette written before the header existed: its YAML error still says where, and looks cut short
    "headerless, cut short": (lambda text: text.removeprefix(HEADER)[: text.index("interactions:") + 200] + "\n  - [",
                              "it is not valid YAML at line "),
    "broken YAML": (lambda text: text.replace("interactions:\n", "interactions:\n  bad: [unclosed\n", 1),
                    "it is not valid YAML at line "),
    "a list at the top": (lambda text: "- request: {}\n- response: {}\n",
                          "its top level is a list, not a mapping of metadata, version and interactions"),
    "an interaction without its response": (
        lambda text: text[: text.index("  response:")] + FOOTER, "interaction 1 has no response"),
}


@pytest.fixture
def recorded(server, cassette) -> Path:
    with use_cassette(cassette, mode="record", provider="openai", model="gpt-4o-mini", nodeid=NODEID):
        client = client_for("openai", server.base_urls["openai"])
        openai_poll(client, openai_submit(client, PROMPTS[:1]))
    text = cassette.read_text()
    assert text.startswith(HEADER) and text.endswith(FOOTER)
    return cassette


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_replay_auto_and_the_check_say_which_file_what_is_wrong_and_how_to_record_it(recorded, breakage):
    damage, problem = BREAKAGES[breakage]
    recorded.write_text(damage(recorded.read_text()))

    assert auto_mode(recorded) == "replay", "auto mode replays it, so that replay says what is wrong"
    with pytest.raises(CassetteError) as info:
        with use_cassette(recorded, mode="replay", provider="openai", model=None, nodeid=NODEID):
            openai_submit(client_for("openai"), PROMPTS[:1])
    message = str(info.value)
    assert message.startswith(f"pytest-batch cannot read cassette {recorded}: {problem}")
    assert "<unicode string>" not in message and "Traceback" not in message
    assert f". Record it again (record mode replaces the file): pytest '{NODEID}' --batch-mode=record" in message

    report = check_cassettes(recorded.parent)
    assert not report.ok
    assert report.unreadable[recorded].startswith(problem)
    lines = report.format().splitlines()
    assert lines[0].startswith(f"unreadable: {recorded}: {problem}")
    assert lines[-1] == f"1 cassette checked in {recorded.parent}: 0 stale, 0 with secrets, 0 pending, 1 unreadable"


def test_record_mode_replaces_a_file_that_is_no_cassette(server, recorded):
    recorded.write_text("- not\n- a cassette\n")
    with use_cassette(recorded, mode="record", provider="openai", model="gpt-4o-mini", nodeid=NODEID):
        client = client_for("openai", server.base_urls["openai"])
        openai_poll(client, openai_submit(client, PROMPTS[:1]))
    assert cassette_state(recorded) == "recorded" and check_cassettes(recorded.parent).ok


def test_a_file_that_is_not_utf8_is_unreadable_not_an_empty_cassette(recorded):
    recorded.write_bytes(recorded.read_bytes().replace(b"metadata:", b"metadata:\xff", 1))
    assert cassette_state(recorded) == "unreadable"
    with pytest.raises(CassetteError, match=r"cannot read cassette .*: .*Record it again"):
        with use_cassette(recorded, mode="replay", provider="openai", model=None, nodeid=NODEID):
            pass
    assert recorded in check_cassettes(recorded.parent).unreadable


def test_a_pending_recording_that_cannot_be_read_says_to_delete_it_and_cancel_its_batch(emulator, server, cassette):
    emulator.set_lifecycle("manual")
    with pytest.raises(Exception, match="still running"):
        with use_cassette(cassette, mode="record", provider="openai", model=None, nodeid=NODEID,
                          record_timeout=0) as session:
            client = client_for("openai", server.base_urls["openai"])
            batch_id = openai_submit(client, PROMPTS[:1])
            session.wait(lambda timeout: openai_poll(client, batch_id, max_polls=1), batch_id=batch_id)
    cassette.write_text(_cut_mid_line(cassette.read_text()))
    with pytest.raises(CassetteError) as info:
        with use_cassette(cassette, mode="record", provider="openai", model=None, nodeid=NODEID):
            pass
    message = str(info.value)
    assert f"cannot read cassette {cassette}: the file is cut short" in message
    assert (f"It is a pending recording (batch {batch_id}) that cannot be resumed: delete it (and cancel batch "
            f"{batch_id} if it still runs), then record again: pytest '{NODEID}' --batch-mode=record") in message
    assert len(emulator.journal.calls(method="POST", path_contains="batches")) == 1, "nothing submitted again"
