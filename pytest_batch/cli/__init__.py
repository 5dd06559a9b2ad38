"""The ``pytest-batch`` command line: ``main(argv)`` returns the exit code; the script runs
``console_main``, which exits quickly after it."""

from .main import console_main, main

__all__ = ["console_main", "main"]
