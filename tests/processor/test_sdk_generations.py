"""What the processor does where an older SDK lacks a helper or a call (README "SDK versions").

The SDKs installed decide which path runs; the paths an older release takes are also forced
here on the newest one, by removing the helper the way the older release lacks it."""

from __future__ import annotations

import warnings

import pytest

from pytest_batch.seed import EXPECTED_USERS, SEED_PROMPTS, User


def _users(bp) -> list[User]:
    return [item.value for item in bp.results(bp.wait(bp.submit(list(SEED_PROMPTS)))).in_input_order()]


def _has(module: str, name: str) -> bool:
    import importlib

    return hasattr(importlib.import_module(module), name)


@pytest.mark.sdk_matrix
def test_anthropic_structured_mode_on_this_sdk(make_bp):
    bp = make_bp("anthropic", User)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        params = bp.build(["Alice is 28."]).lines[0]["params"]
    if _has("anthropic", "transform_schema"):
        assert params["output_config"]["format"]["type"] == "json_schema" and "tools" not in params
        assert not caught
    else:  # anthropic < 0.73: forced tool use, said once, read back the same
        assert params["tool_choice"] == {"type": "tool", "name": "User"} and "output_config" not in params
        assert "output_config needs anthropic >= 0.73" in str(caught[0].message)
    assert _users(bp) == list(EXPECTED_USERS)


def test_anthropic_without_schema_helpers_forces_the_tool_and_warns(make_bp, monkeypatch):
    import anthropic

    transform = pytest.importorskip("anthropic.lib._parse._transform")  # else this SDK is the case already
    monkeypatch.delattr(anthropic, "transform_schema", raising=False)
    monkeypatch.delattr(transform, "to_json_output_format", raising=False)
    bp = make_bp("anthropic", User)
    with pytest.warns(UserWarning, match=r"cannot convert User for structured outputs \(output_config needs "
                                         r"anthropic >= 0\.73\); pytest-batch sends forced tool use instead"):
        params = bp.build(["Alice is 28."]).lines[0]["params"]
    assert params["tools"][0]["input_schema"] == User.model_json_schema()  # the model's own schema
    assert params["tool_choice"] == {"type": "tool", "name": "User"} and "output_config" not in params
    with pytest.warns(UserWarning):
        assert _users(bp) == list(EXPECTED_USERS)


def test_anthropic_before_to_json_output_format_gets_the_same_format(make_bp, monkeypatch):
    transform = pytest.importorskip("anthropic.lib._parse._transform")
    if not hasattr(transform, "to_json_output_format"):
        pytest.skip("this anthropic has no to_json_output_format to compare with")
    current = make_bp("anthropic", User).build(["x"]).lines[0]["params"]["output_config"]
    monkeypatch.delattr(transform, "to_json_output_format")  # anthropic 0.73 - 2.4
    assert make_bp("anthropic", User).build(["x"]).lines[0]["params"]["output_config"] == current


def test_openai_before_the_responses_helpers_gets_the_same_text_format(make_bp, monkeypatch):
    import sys

    current = make_bp("openai", User, endpoint="/v1/responses").build(["x"]).lines[0]["body"]["text"]
    monkeypatch.setitem(sys.modules, "openai.lib._parsing._responses", None)  # openai < 1.66 has no such module
    older = make_bp("openai", User, endpoint="/v1/responses").build(["x"]).lines[0]["body"]["text"]
    assert older == current and older["format"]["strict"] is True and older["format"]["name"] == "User"


@pytest.mark.sdk_matrix
def test_gemini_keeps_custom_ids_whichever_way_this_sdk_sends(emulator, make_bp):
    from google.genai import types

    bp = make_bp("google", User)
    ids = [f"user-{n}" for n in range(1, 4)]
    job = bp.wait(bp.submit(bp.build(list(SEED_PROMPTS[:3]), custom_ids=ids)))
    uploaded = emulator.journal.calls("google", "POST", "/upload/")
    # InlinedRequest carries the custom_id (metadata.key) from google-genai 1.50; before, a file does
    assert bool(uploaded) == ("metadata" not in types.InlinedRequest.model_fields)
    again = make_bp("google", User).results(job.id)  # a job known by its id alone: ids from the answers
    assert {item.custom_id: item.value for item in again} == dict(zip(ids, EXPECTED_USERS[:3], strict=True))
