"""BatchProcessor: one API over the OpenAI, Anthropic and Gemini batch APIs.

    from pytest_batch import BatchProcessor
    bp = BatchProcessor("openai/gpt-6-luna", response_model=User)
    job = bp.submit(prompts)
    job = bp.wait(job)
    for item in bp.results(job).in_input_order(): ...

The provider comes from the ``provider/model-name`` string and nothing else. Building
requests needs no key and no network; the SDK client is made lazily from the environment
(or injected with ``client=``). Everything provider-specific lives in ``providers/``.

The rooms: ``sync`` (BatchProcessor), ``aio`` (AsyncBatchProcessor), ``base`` (what both share),
``requests`` (a built batch), ``pricing``, ``polling`` (waits, retries of hiccups, progress).
"""

from __future__ import annotations

from .aio import AsyncBatchProcessor
from .pricing import BATCH_DISCOUNT, PRICES, price_of, register_price
from .requests import BatchRequests
from .sync import BatchProcessor

__all__ = ["BATCH_DISCOUNT", "PRICES", "AsyncBatchProcessor", "BatchProcessor", "BatchRequests", "price_of",
           "register_price"]
