"""The local emulator of the OpenAI, Anthropic and Gemini batch APIs."""

from .clock import Clock, FrozenClock
from .core import PROVIDERS, Emulator
from .http import DroppedConnection
from .lifecycle import Lifecycle
from .responders import Answer, BatchItem, Expectation

__all__ = ["PROVIDERS", "Answer", "BatchItem", "Clock", "DroppedConnection", "Emulator", "Expectation",
           "FrozenClock", "Lifecycle", "mount_respx"]


def __getattr__(name: str) -> object:
    # respx (and its mockers for httpx2) only for those who use it: importing the emulator stays cheap
    if name == "mount_respx":
        from .respx import mount_respx

        return mount_respx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
