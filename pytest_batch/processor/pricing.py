"""What a batch costs: the providers' price tables, user prices, the batch discount."""

from __future__ import annotations

from ..errors import (
    ConfigurationError,
)
from ..providers import Provider

#: user prices, per million tokens (input, output) at the standard rate, keyed "provider/model";
#: consulted before each provider file's table. Batch pricing is BATCH_DISCOUNT of it.
PRICES: dict[str, tuple[float, float]] = {}
BATCH_DISCOUNT = 0.5


def register_price(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Add or override a model's standard price: ``register_price("openai/gpt-4o-mini", 0.15, 0.6)``."""
    if "/" not in model:
        raise ConfigurationError(f"register_price needs 'provider/model-name', got {model!r}")
    PRICES[model] = (float(input_per_mtok), float(output_per_mtok))


def price_of(provider: Provider, model: str) -> tuple[float, float] | None:
    """The standard price of a model: exact name, else the longest known prefix (dated snapshots)."""
    full = f"{provider.name}/{model}"
    if full in PRICES:
        return PRICES[full]
    table = {**provider.prices, **{k.partition("/")[2]: v for k, v in PRICES.items()
                                   if k.startswith(provider.name + "/")}}
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name)]
    return table[max(prefixes, key=len)] if prefixes else None
