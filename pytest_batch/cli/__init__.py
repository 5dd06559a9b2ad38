"""The ``pytest-batch`` command line (entry point ``pytest_batch.cli:main``)."""

from .main import main

__all__ = ["main"]
