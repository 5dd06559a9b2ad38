"""The local emulator of the OpenAI, Anthropic and Gemini batch APIs."""

from .clock import Clock, FrozenClock
from .core import PROVIDERS, Emulator
from .http import DroppedConnection
from .lifecycle import Lifecycle
from .responders import Answer, BatchItem, Expectation

__all__ = ["PROVIDERS", "Answer", "BatchItem", "Clock", "DroppedConnection", "Emulator", "Expectation",
           "FrozenClock", "Lifecycle"]
