"""The models pytest-batch knows, per provider: which are current, which is the default, which are
deprecated or retired (and when), and what each costs.

The one home of these facts: the plugin's ``--batch-model`` defaults, ``BatchProcessor``'s cost
estimates (``providers/*.py`` read their price tables from here), ``pytest-batch demo`` and
``pytest-batch list-models`` all read this module. Names only, no SDK import, so every layer can.

Any model string works whatever this catalog says: a model it does not list, or one it marks
retired, is sent to the provider as given (the emulator answers it like any other), so a pinned
old name keeps working in simulate and replay; only the live API refuses a retired model.

Sources, read 2026-12-02 (each entry's dates come from its provider's page):

- OpenAI: developers.openai.com/api/docs/models/* (prices per 1M tokens) and /api/docs/deprecations
  (shutdowns on 2026-10-23, 2026-12-11 and 2027-01-14, with their replacements); the current names
  are those openai 3.x's ``ChatModel`` Literal lists.
- Anthropic: platform.claude.com/docs/en/about-claude/models/overview (the current lineup and
  prices; Haiku 5.5's price is for prompts up to 100K tokens) and /about-claude/model-deprecations;
  the names are anthropic 2.x's ``Model`` Literal.
- Google: ai.google.dev/gemini-api/docs/models, /pricing and /deprecations (Gemini 2.0 Flash and
  Flash-Lite shut down 2026-06-01, Gemini 2.5 Flash and Pro were withdrawn 2026-11-12).
- Azure OpenAI: a batch runs on the user's own Global-Batch deployment, whose name is the model
  string (``azure/<deployment>``); the catalog assumes deployments named after OpenAI's models and
  prices them at OpenAI's list price (Azure's global batch price follows it), but Azure retires
  models on its own schedule (learn.microsoft.com/azure/ai-foundry/openai/concepts/model-retirements),
  so Azure rows carry no lifecycle.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

#: how a model stands with its provider, as list-models shows it.
CURRENT, LEGACY, DEPRECATED, RETIRED = "current", "legacy", "deprecated", "retired"


@dataclass(frozen=True)
class CatalogModel:
    """One model of one provider. ``price`` is the standard price per million tokens (input,
    output) in US dollars, None when unknown; the batch discount is applied on top of it."""

    name: str
    price: tuple[float, float] | None = None
    #: the day the provider stops (or stopped) serving it; None: no date announced
    retires: datetime.date | None = None
    #: what the provider recommends instead, once it is deprecated
    replacement: str | None = None
    #: superseded, still served, no retirement announced (Anthropic's and OpenAI's "legacy")
    legacy: bool = False
    #: deprecated without a firm date (Google gives only an "earliest" shutdown)
    deprecated: bool = False

    def status(self, today: datetime.date | None = None) -> str:
        """current, legacy, deprecated (a retirement is announced) or retired (its date has passed)."""
        if self.retires is not None:
            return RETIRED if self.retires <= (today or datetime.date.today()) else DEPRECATED
        if self.deprecated:
            return DEPRECATED
        return LEGACY if self.legacy else CURRENT

    def note(self, today: datetime.date | None = None) -> str:
        """What list-models says about its lifecycle: ``retired 2026-10-23, use gpt-5.6-sol``."""
        status = self.status(today)
        if status == CURRENT:
            return ""
        text = status
        if self.retires is not None:
            text += (" on " if status == RETIRED else ", retires ") + self.retires.isoformat()
        elif status == DEPRECATED:
            text += ", no retirement date announced"
        return f"{text}; use {self.replacement}" if self.replacement else text


def _d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def _retiring(day: str, replacement: str, *names_prices: tuple[str, tuple[float, float] | None]
              ) -> list[CatalogModel]:
    return [CatalogModel(name, price, _d(day), replacement) for name, price in names_prices]


_OPENAI: list[CatalogModel] = [
    # current, cheapest first: the first is the default
    CatalogModel("gpt-6-luna", (0.10, 0.50)),
    CatalogModel("gpt-5.6-luna", (0.20, 1.20)),
    CatalogModel("gpt-6-sol", (2.00, 10.00)),
    CatalogModel("gpt-5.6-terra", (2.00, 12.00)),
    CatalogModel("gpt-6-astra", (10.00, 50.00)),
    CatalogModel("gpt-6.1-terra"),
    CatalogModel("gpt-6.1-sol"),
    CatalogModel("gpt-6.2-sol"),
    CatalogModel("gpt-6.2-astra"),
    CatalogModel("gpt-5.6-sol"),
    # OpenAI's 2026-10-14 notice: shut down 2027-01-14
    *_retiring("2027-01-14", "gpt-6-luna", ("gpt-4o-mini", (0.15, 0.60)), ("gpt-4o", (2.50, 10.00)),
               ("gpt-4.1-mini", (0.40, 1.60)), ("gpt-4.1", (2.00, 8.00))),
    # the 2026-06-11 notice: GPT-5 and o3 shut down 2026-12-11
    *_retiring("2026-12-11", "gpt-6-luna", ("gpt-5-nano", (0.05, 0.40))),
    *_retiring("2026-12-11", "gpt-6.1-terra", ("gpt-5-mini", (0.25, 2.00))),
    *_retiring("2026-12-11", "gpt-6.1-sol", ("gpt-5", (1.25, 10.00)), ("o3", None)),
    # shut down 2026-10-23
    *_retiring("2026-10-23", "gpt-5.6-luna", ("gpt-4.1-nano", (0.10, 0.40))),
    *_retiring("2026-10-23", "gpt-5.6-sol", ("gpt-4-turbo", (10.00, 30.00)), ("gpt-4", (30.00, 60.00)),
               ("o1", None)),
    *_retiring("2026-10-23", "gpt-5.6-terra", ("gpt-3.5-turbo", (0.50, 1.50)), ("o4-mini", None),
               ("o3-mini", None)),
]

_ANTHROPIC: list[CatalogModel] = [
    CatalogModel("claude-haiku-5-5", (0.10, 0.50)),
    CatalogModel("claude-sonnet-5-5", (2.00, 10.00)),
    CatalogModel("claude-opus-5-5", (4.00, 20.00)),
    CatalogModel("claude-fable-5-1", (10.00, 50.00)),
    CatalogModel("claude-fable-5-2"),
    # legacy: still served, superseded by the 5.5 generation
    CatalogModel("claude-haiku-4-5", (1.00, 5.00), legacy=True),
    CatalogModel("claude-sonnet-5", (2.00, 10.00), legacy=True),
    CatalogModel("claude-opus-5", (5.00, 25.00), legacy=True),
    CatalogModel("claude-sonnet-4-6", (3.00, 15.00), legacy=True),
    CatalogModel("claude-sonnet-4-5", (3.00, 15.00), legacy=True),
    CatalogModel("claude-opus-4-6", (5.00, 25.00), legacy=True),
    # deprecated 2026-11-23, tentative retirement 2027-01-22
    *_retiring("2027-01-22", "claude-opus-5-5", ("claude-opus-4-5", (5.00, 25.00))),
    *_retiring("2026-08-05", "claude-opus-5-5", ("claude-opus-4-1", (15.00, 75.00))),
    *_retiring("2026-04-20", "claude-haiku-4-5", ("claude-3-haiku-20240307", (0.25, 1.25))),
    *_retiring("2026-02-19", "claude-haiku-4-5", ("claude-3-5-haiku-20241022", (0.80, 4.00))),
    *_retiring("2026-02-19", "claude-sonnet-4-6", ("claude-3-7-sonnet-20250219", (3.00, 15.00))),
    *_retiring("2026-01-05", "claude-opus-4-6", ("claude-3-opus-20240229", (15.00, 75.00))),
    *_retiring("2025-10-22", "claude-sonnet-4-6", ("claude-3-5-sonnet-20241022", (3.00, 15.00)),
               ("claude-3-5-sonnet-20240620", (3.00, 15.00))),
]

_GOOGLE: list[CatalogModel] = [
    # the cheapest current model with a published price; 3.5 Flash-Lite's price was not found
    CatalogModel("gemini-3.1-flash-lite", (0.25, 1.50)),
    CatalogModel("gemini-3.5-flash-lite"),
    CatalogModel("gemini-3.5-flash"),
    CatalogModel("gemini-3.6-flash"),
    CatalogModel("gemini-3.7-flash"),
    CatalogModel("gemini-3.8-flash"),
    CatalogModel("gemini-2.5-flash-lite", (0.10, 0.40), replacement="gemini-3.5-flash-lite", deprecated=True),
    *_retiring("2026-11-12", "gemini-3.8-flash", ("gemini-2.5-flash", (0.30, 2.50)), ("gemini-2.5-pro", (1.25, 10.00))),
    *_retiring("2026-06-01", "gemini-3.1-flash-lite", ("gemini-2.0-flash-001", (0.10, 0.40)),
               ("gemini-2.0-flash", (0.10, 0.40)), ("gemini-2.0-flash-lite", (0.075, 0.30))),
    # Gemini 1.0: gemini-pro-vision shut down 2024-07-12, gemini-pro (1.0 Pro) 2025-02-15
    *_retiring("2025-02-15", "gemini-3.1-flash-lite", ("gemini-pro", None)),
    *_retiring("2024-07-12", "gemini-3.1-flash-lite", ("gemini-pro-vision", None)),
]

#: the day the facts above were read from the providers' pages
CHECKED = _d("2026-12-02")

# Azure: deployments named after the OpenAI models still served when the catalog was checked, at
# OpenAI's prices, without OpenAI's lifecycle (Azure retires models on its own schedule)
_AZURE: list[CatalogModel] = [CatalogModel(m.name, m.price) for m in _OPENAI if m.status(CHECKED) != RETIRED]

#: every provider's models: current ones first (the first is its default), then legacy, deprecated, retired.
CATALOG: dict[str, tuple[CatalogModel, ...]] = {
    "openai": tuple(_OPENAI), "anthropic": tuple(_ANTHROPIC), "google": tuple(_GOOGLE), "azure": tuple(_AZURE),
}

#: the model each provider uses when none is named, as "provider/model": the plugin's
#: ``--batch-model`` defaults, ``pytest-batch demo``, the examples and ``verify``'s probes.
DEFAULT_MODELS: dict[str, str] = {provider: f"{provider}/{models[0].name}" for provider, models in CATALOG.items()}


def models_of(provider: str) -> tuple[CatalogModel, ...]:
    return CATALOG.get(provider, ())


def find(provider: str, model: str) -> CatalogModel | None:
    """The catalog's entry for ``model`` of ``provider``: its exact name, else the entry it is a
    dated snapshot of (``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``, ``claude-opus-4-5-20251101``
    -> ``claude-opus-4-5``, Vertex's ``claude-opus-4-5@20251101``); None when it lists neither."""
    entries = {entry.name: entry for entry in models_of(provider)}
    base = snapshot_of(model)
    return entries.get(model) or (entries.get(base) if base is not None else None)


def snapshot_of(model: str) -> str | None:
    """The model ``model`` is a dated snapshot of (``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``),
    None when it is not one."""
    base = _SNAPSHOT.sub("", model)
    return base if base != model and base else None


#: a dated snapshot's suffix: -2024-07-18 (OpenAI), -20251001 (Anthropic), @20251001 (Vertex), -001 (Gemini)
_SNAPSHOT = re.compile(r"(?:[-@]\d{4}-?\d{2}-?\d{2}|-\d{3})$")


def prices(provider: str) -> dict[str, tuple[float, float]]:
    """``{model: (input, output)}``, standard US dollars per million tokens, for the priced models."""
    return {entry.name: entry.price for entry in models_of(provider) if entry.price is not None}


__all__ = ["CATALOG", "CHECKED", "CURRENT", "DEFAULT_MODELS", "DEPRECATED", "LEGACY", "RETIRED", "CatalogModel", "find",
           "models_of", "prices", "snapshot_of"]
