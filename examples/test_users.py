"""The canonical example: extract ten users from ten prompts, on every provider.

    pytest examples                          # offline: replays cassettes/ if present, else simulates
    pytest examples --batch-provider=openai  # one provider
    pytest examples --batch-mode=record      # live API, writing cassettes (needs API keys)
"""

from pytest_batch.assertions import assert_batch_completed, assert_extractions


def test_users(batch_processor, batch_messages, expected_users):
    job = batch_processor.wait(batch_processor.submit(batch_messages))
    assert_batch_completed(job)
    assert_extractions(batch_processor.results(job), expected_users)
