"""Exceptions the BatchProcessor raises: each one a single actionable line.

Every class derives from ``BatchProcessorError``; the ones caused by bad input also derive
from ``ValueError`` and the lookup failures from ``LookupError``, so callers can catch the
broad built-in kind. Messages never contain an API key.
"""

from __future__ import annotations


class BatchProcessorError(Exception):
    """Base class of every error the BatchProcessor raises.

    The message is redacted when the error is made: a provider (or a proxy) that echoes the
    request's credentials back in its error text does not put the key in the exception.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        from .secrets import redact

        super().__init__(redact(str(message)), *args)


class ConfigurationError(BatchProcessorError, ValueError):
    """Bad arguments: a model string without a provider, an unknown provider, a bad custom_id."""


class MissingAPIKeyError(ConfigurationError):
    """No API key in the environment and no client injected."""


class InputFileError(ConfigurationError):
    """A JSONL input that cannot be submitted (reported with its path and line number)."""


class BatchNotFoundError(BatchProcessorError, LookupError):
    """The provider does not know the batch id."""


class UnsupportedOperationError(BatchProcessorError):
    """The provider has no such operation (OpenAI batches cannot be deleted)."""


class ProviderError(BatchProcessorError):
    """The provider refused a call; the message carries its status and explanation."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ResultsNotReadyError(BatchProcessorError):
    """Results were asked for before the batch reached a terminal status."""


class BatchTimeoutError(BatchProcessorError, TimeoutError):
    """``wait`` gave up before the batch reached a terminal status."""


def with_cause(error: BaseException) -> str:
    """``error``'s message followed by the innermost exception it was raised from, when that one
    says something the message does not.

    The SDKs wrap a failed connection in a bare "Connection error." whose cause chain holds what
    happened (the refused host, pytest-batch's own "blocked a real connection to 'x'" with the
    mode and what to do): a message built from the SDK error alone would drop exactly that.
    """
    text = str(error)
    root, seen = None, {id(error)}
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        root = cause
        cause = cause.__cause__ or cause.__context__
    if root is None:
        return text
    detail = str(root) or type(root).__name__
    return text if detail in text else f"{text} ({detail})"
