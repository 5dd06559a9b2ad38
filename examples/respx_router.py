"""The emulator in your own respx mocks: run with `pytest examples/respx_router.py`.

Your suite already mocks HTTP with respx; the batch APIs join those mocks as one more route.
respx patches httpx only: `using="httpcore2"` reaches SDKs on httpx2 (openai 3.x, anthropic
>= 1.0, google-genai 3.x) and `using="httpcore+httpcore2"` both libraries, so the same test runs
whichever SDK generation is installed.
"""

import httpx
import openai
import pytest
import respx
from pydantic import BaseModel

from pytest_batch import BatchProcessor
from pytest_batch.sim import Emulator


class Contact(BaseModel):
    name: str
    email: str


def enrich(prompts: list[str]) -> list[Contact]:
    """The pipeline under test: a status check on the team's own service, then one batch."""
    httpx.get("https://crm.example.com/health").raise_for_status()
    bp = BatchProcessor("openai/gpt-4o-mini", Contact, client=openai.OpenAI(api_key="sim-openai-key"))
    job = bp.wait(bp.submit(prompts))
    return [item.value for item in bp.results(job).in_input_order()]


@pytest.fixture
def sim() -> Emulator:
    emulator = Emulator()
    emulator.expect({"name": "Ada", "email": "ada@example.com"}, match="Ada")
    emulator.expect({"name": "Alan", "email": "alan@example.com"}, match="Alan")
    return emulator


def test_with_your_own_router(sim):
    with respx.mock(using="httpcore+httpcore2") as router:  # asserts every route was called, as respx does
        health = router.get("https://crm.example.com/health").respond(200)
        batch_api = sim.mount_respx(router, ["openai"])
        contacts = enrich(["Write to Ada at ada@example.com", "Alan: alan@example.com"])
    assert [c.name for c in contacts] == ["Ada", "Alan"]
    assert health.call_count == 1
    assert [call.request.url.path for call in batch_api.calls][:2] == ["/v1/files", "/v1/batches"]


@pytest.mark.respx(using="httpcore+httpcore2")
def test_with_the_respx_mock_fixture(respx_mock, sim):
    respx_mock.get("https://crm.example.com/health").respond(200)
    sim.mount_respx(respx_mock)
    assert [c.email for c in enrich(["Ada, ada@example.com"])] == ["ada@example.com"]
    assert respx_mock.calls.last.request.url.host == "api.openai.com"
