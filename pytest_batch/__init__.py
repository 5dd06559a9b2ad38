"""pytest-batch: test LLM batch-API extraction pipelines on OpenAI, Anthropic and Gemini.

Names are imported lazily so that ``import pytest_batch`` (and loading the pytest plugin)
costs almost nothing and imports no SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "BatchProcessor": "pytest_batch.processor",
    "AsyncBatchProcessor": "pytest_batch.processor",
    "register_price": "pytest_batch.processor",
    "BatchResults": "pytest_batch.models",
    "BatchJob": "pytest_batch.models",
    "BatchStatus": "pytest_batch.models",
    "BatchSuccess": "pytest_batch.models",
    "BatchError": "pytest_batch.models",
    "ErrorKind": "pytest_batch.models",
    "Usage": "pytest_batch.models",
    "Emulator": "pytest_batch.sim",
    "User": "pytest_batch.seed",
    "SEED_PROMPTS": "pytest_batch.seed",
    "EXPECTED_USERS": "pytest_batch.seed",
    "assert_extractions": "pytest_batch.assertions",
    "assert_batch_completed": "pytest_batch.assertions",
    "assert_no_errors": "pytest_batch.assertions",
    "assert_error_kinds": "pytest_batch.assertions",
    "assert_at_most_errors": "pytest_batch.assertions",
    "compare_extractions": "pytest_batch.assertions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
