"""The pydantic model a batch extracts into, named as ``module:Class`` (or ``module.Class``).

One loader for every place a user names their model by string: the CLI's ``--response-model``,
the plugin's ``batch_response_model`` ini setting and ``@pytest.mark.batch(response_model="...")``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

#: the seed's ``User(name: str, age: int)``: what the CLI and the plugin use when nothing is named.
DEFAULT_RESPONSE_MODEL = "pytest_batch.seed:User"


class ResponseModelImportError(ConfigurationError):
    """A ``module:Class`` spec that cannot be imported, or is no pydantic model; ``module_missing``
    tells a module that does not exist from one whose own code failed."""

    def __init__(self, message: str, *, module_missing: bool = False) -> None:
        super().__init__(message)
        self.module_missing = module_missing


def split_spec(spec: str) -> tuple[str, str]:
    """``"a.b:C"`` or ``"a.b.C"`` -> ``("a.b", "C")``; ``("", "")`` when it has no module part."""
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
    else:
        module_name, _, attribute = spec.rpartition(".")
    return (module_name, attribute) if module_name and attribute else ("", "")


def import_response_model(spec: str, *, where: str, search: Iterable[str | Path] = ()) -> type:
    """Import the pydantic model ``spec`` names; ``where`` (e.g. ``"--response-model 'x:Y'"``) starts
    every message, which says which step failed. The folders in ``search`` are added to the end of
    ``sys.path`` first, so the user's own modules are found."""
    module_name, attribute = split_spec(spec)
    if not module_name:
        raise ResponseModelImportError(f"{where}: expected 'module:Class' (e.g. {DEFAULT_RESPONSE_MODEL})")
    for folder in map(str, search):
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ResponseModelImportError(f"{where}: cannot import module {module_name!r} ({_one_line(exc)})",
                                       module_missing=True) from None
    except BaseException as exc:  # noqa: BLE001 - the module's own code failed (even sys.exit at import)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ResponseModelImportError(f"{where}: importing module {module_name!r} failed: "
                                       f"{type(exc).__name__}: {_one_line(exc)}") from None
    model: Any = module
    for part in attribute.split("."):
        try:
            model = getattr(model, part)
        except AttributeError:
            raise ResponseModelImportError(f"{where}: cannot import it (module {module_name!r} has no attribute "
                                           f"{attribute!r})", module_missing=True) from None
        except Exception as exc:  # noqa: BLE001 - a module __getattr__ that fails
            raise ResponseModelImportError(f"{where}: reading {attribute!r} from module {module_name!r} failed: "
                                           f"{type(exc).__name__}: {_one_line(exc)}") from None
    check_response_model(model, where=where)
    return model


def check_response_model(model: Any, *, where: str) -> None:
    """Refuse anything but a pydantic BaseModel subclass, saying what it is instead."""
    from pydantic import BaseModel

    if model is BaseModel:
        raise ResponseModelImportError(f"{where} is pydantic's BaseModel itself; give your subclass of it that "
                                       f"describes the answer (e.g. {DEFAULT_RESPONSE_MODEL})")
    if not isinstance(model, type):
        raise ResponseModelImportError(f"{where} is a {type(model).__name__}, not a class; give a pydantic "
                                       "BaseModel subclass")
    if not issubclass(model, BaseModel):
        raise ResponseModelImportError(f"{where} is not a pydantic BaseModel subclass (class {model.__qualname__}); "
                                       "give one that describes the answer")


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line: every message built here is one line (the CLI's contract)."""
    return " ".join(str(exc).split())
