"""What a batch costs: the catalog's prices (pytest_batch.model_catalog), user prices, the batch discount."""

from __future__ import annotations

from ..errors import (
    ConfigurationError,
)
from ..model_catalog import snapshot_of
from ..providers import Provider

#: user prices, per million tokens (input, output) at the standard rate, keyed "provider/model";
#: consulted before the catalog's prices (each provider's ``prices``). Batch pricing is BATCH_DISCOUNT of it.
PRICES: dict[str, tuple[float, float]] = {}
BATCH_DISCOUNT = 0.5


def register_price(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Add or override a model's standard price: ``register_price("openai/gpt-4o-mini", 0.15, 0.6)``."""
    if "/" not in model:
        raise ConfigurationError(f"register_price needs 'provider/model-name', got {model!r}")
    PRICES[model] = (float(input_per_mtok), float(output_per_mtok))


def price_of(provider: Provider, model: str) -> tuple[float, float] | None:
    """The standard price of a model: by its exact name, else as the dated snapshot of a priced
    model (``gpt-4o-mini-2024-07-18`` costs what ``gpt-4o-mini`` does); a user price first. A
    model merely starting like a priced one (``gpt-5.6-sol`` and ``gpt-5``) has no price."""
    table = {**provider.prices, **{k.partition("/")[2]: v for k, v in PRICES.items()
                                   if k.startswith(provider.name + "/")}}
    for name in (model, snapshot_of(model)):
        if name is not None and name in table:
            return table[name]
    return None
