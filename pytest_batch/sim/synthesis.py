"""Schema-valid synthetic answers: a JSON schema compiled once into a generator, run per request on its
own deterministic random stream; and ``violate``, which breaks a valid answer on purpose. This module
walks the schema (objects, arrays, unions, $ref and allOf, recursion); scalars.py makes the numbers
and strings."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from typing import Any

from .scalars import (  # noqa: F401 - SynthesisError and InvalidSchema are this module's API
    Generator,
    InvalidSchema,
    SynthesisError,
    between,
    integer_generator,
    is_number,
    length_keyword,
    number_generator,
    plain_integer,
    plain_string,
    string_generator,
)

class ItemRandom:
    """A tiny splitmix64 generator seeded from a request's hash.

    Every request gets its own stream, so an answer depends only on the seed, the custom_id
    and the prompt (not on order or shuffling); seeding a ``random.Random`` per request cost
    more than the rest of the synthetic answer on a 50,000-request batch.
    """

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = seed

    def getrandbits(self, bits: int) -> int:
        out = 0
        for _ in range(0, bits, 64):
            self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
            z = self.state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
            out = (out << 64) | (z ^ (z >> 31))
        return out >> (-bits % 64)

    def random(self) -> float:
        return self.getrandbits(53) / 9007199254740992

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()



# --------------------------------------------------------------------------- schemas

def synthesize(schema: Mapping[str, Any], rng: ItemRandom | random.Random) -> Any:
    """A deterministic object valid against ``schema``: JSON Schema as pydantic writes it,
    OpenAI's strict form, Anthropic's transformed form, or Gemini's uppercase OpenAPI subset."""
    return compile_schema(schema)(rng)


def compile_schema(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None,
                   where: str | None = None) -> Generator:
    """Walk ``schema`` once into a generator from a random source to a valid value.

    A batch's requests usually share one schema: compiled once, it is only called per request.
    ``where`` names the field being compiled, for errors (``User.address.zip``). Raises
    ``InvalidSchema`` for a schema no provider accepts and ``SynthesisError`` for one no value
    satisfies (or none the emulator can make); the generator itself may raise ``SynthesisError``
    for a draw it cannot finish (a ``uniqueItems`` array of too few distinct values).
    """
    if not isinstance(schema, Mapping):
        raise InvalidSchema(f"{where or 'the schema root'}: expected a JSON schema object, got {schema!r:.60}")
    if where is None:
        where = str(schema.get("title") or "the schema root")
    try:
        return _Compiler(root if root is not None else schema).compile(schema, where, (), None)
    except RecursionError:
        raise SynthesisError(f"{where}: the schema is nested too deeply to synthesize") from None


class _NoFiniteValue(SynthesisError):
    """Every value of a recursive schema would contain another (a required field of its own type)."""


#: keywords that say nothing about which values are valid
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
                          "writeOnly", "$schema", "$id", "$defs", "definitions", "discriminator", "propertyOrdering",
                          "nullable"})
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
#: how often a recursive ``$ref`` expands in full before the generator makes the smallest value
#: it can (optional fields left out, arrays at their minimum, the null of a nullable union)
_FULL_EXPANSIONS = 2
#: schema nodes one compile may walk: a schema whose expansion is larger (shared definitions
#: nested many levels deep) would also make an answer that large
_MAX_NODES = 20_000


class _Compiler:
    """One compile of one schema. ``path`` holds the ``$ref``s expanded on the way to the node
    being compiled; ``minimal`` (None while values are made in full) those expanded since the
    compile switched to the smallest values, where meeting one again means no finite value."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.nodes = 0

    def compile(self, schema: Any, where: str, path: tuple[str, ...], minimal: tuple[str, ...] | None) -> Generator:
        if schema is True:
            return plain_string
        if schema is False:
            raise SynthesisError(f"{where}: its schema is false, which no value satisfies")
        if not isinstance(schema, Mapping):
            raise InvalidSchema(f"{where}: expected a JSON schema object, got {schema!r:.60}")
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise SynthesisError(f"{where}: the schema expands to over {_MAX_NODES} nodes; answer these requests "
                                 "with an expectation or a responder callable instead")
        kind = schema.get("type")
        leaf = _LEAVES.get(kind) if kind.__class__ is str else None
        if leaf is not None and schema.keys() <= _PLAIN_KEYS and not _has_hint(schema):  # e.g. {"type", "title"}
            return leaf
        if _has_hint(schema):
            schema = _with_hints(schema)
        if "$ref" in schema or "allOf" in schema:
            schema, refs = self.flatten(schema, where)
            for ref in refs:
                if minimal is not None and ref in minimal:
                    raise _NoFiniteValue(f"{where}: every value of {ref} contains another {ref}, so none is finite")
                if minimal is None and path.count(ref) >= _FULL_EXPANSIONS:
                    minimal = ()
            if minimal is not None:
                minimal += refs
            else:
                path += refs
        if minimal is not None and schema.get("nullable") is True:
            return lambda rng: None
        if "const" in schema:
            return self.constant(schema, where)
        if "enum" in schema:
            return self.enumerated(schema, where)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.union(schema, key, where, path, minimal)
        kind = _kind(schema, where, minimal is not None)
        if kind == "object":
            return self.object(schema, where, path, minimal)
        if kind == "array":
            return self.array(schema, where, path, minimal)
        if kind == "integer":
            return integer_generator(schema, where)
        if kind == "number":
            return number_generator(schema, where)
        if kind == "boolean":
            return lambda rng: rng.random() < 0.5
        if kind == "null":
            return lambda rng: None
        return string_generator(schema, where)

    def flatten(self, schema: Mapping[str, Any], where: str) -> tuple[dict[str, Any], tuple[str, ...]]:
        """``$ref`` and ``allOf`` merged into one schema, with the references that took."""
        parts: list[Mapping[str, Any]] = []
        refs: list[str] = []

        def walk(node: Any, seen: tuple[str, ...]) -> None:
            if node is True:
                return
            if node is False:
                raise SynthesisError(f"{where}: an allOf part is false, which no value satisfies")
            if not isinstance(node, Mapping):
                raise InvalidSchema(f"{where}: expected a JSON schema object, got {node!r:.60}")
            if _has_hint(node):  # a definition's own moved keywords
                node = _with_hints(node)
            if "$ref" in node:
                ref = node["$ref"]
                if ref in seen:
                    raise SynthesisError(f"{where}: {ref} is defined as itself (through $ref and allOf)")
                refs.append(ref)
                walk(_resolve(ref, self.root), (*seen, ref))
            if "allOf" in node:
                if not isinstance(node["allOf"], list) or not node["allOf"]:
                    raise InvalidSchema(f"{where}: allOf must be a non-empty list of schemas, got "
                                        f"{node['allOf']!r:.60}")
                for part in node["allOf"]:
                    walk(part, seen)
            parts.append({key: value for key, value in node.items() if key not in ("$ref", "allOf")})

        walk(schema, ())
        merged: dict[str, Any] = {}
        for part in parts:
            merged = _merge(merged, part, where)
        return merged, tuple(refs)

    def constant(self, schema: Mapping[str, Any], where: str) -> Generator:
        const = schema["const"]
        if not _fits(const, schema, where) or ("enum" in schema and const not in _enum(schema, where)):
            raise SynthesisError(f"{where}: its const {const!r:.40} does not satisfy its own type or enum")
        return lambda rng: const

    def enumerated(self, schema: Mapping[str, Any], where: str) -> Generator:
        fitting = [value for value in _enum(schema, where) if _fits(value, schema, where)]
        if not fitting:
            raise SynthesisError(f"{where}: no value of its enum {schema['enum']!r:.60} has its type")
        first = fitting[0]
        return lambda rng: first

    def union(self, schema: Mapping[str, Any], key: str, where: str, path: tuple[str, ...],
              minimal: tuple[str, ...] | None) -> Generator:
        """The first option a value can be made for: a non-null one, or null first when the
        value must be small (pydantic's ``Optional[Sub]`` is ``anyOf: [Sub, null]``). Keywords
        beside the union apply to every option."""
        options = schema[key]
        if not isinstance(options, list) or not options:
            raise InvalidSchema(f"{where}: {key} must be a non-empty list of schemas, got {options!r:.60}")
        siblings = {k: v for k, v in schema.items() if k != key and k not in _ANNOTATIONS}
        nulls = [option for option in options if _is_null(option)]
        others = [option for option in options if not _is_null(option)]
        failure: SynthesisError | None = None
        for option in (nulls + others if minimal is not None else others + nulls):
            try:
                if siblings and isinstance(option, Mapping):
                    option = _merge(siblings, option, where)
                return self.compile(option, where, path, minimal)
            except InvalidSchema:
                raise
            except SynthesisError as exc:
                failure = failure or exc
        assert failure is not None
        raise failure

    def object(self, schema: Mapping[str, Any], where: str, path: tuple[str, ...],
               minimal: tuple[str, ...] | None) -> Generator:
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        extra = schema.get("additionalProperties", True)
        if not isinstance(properties, Mapping):
            raise InvalidSchema(f"{where}: properties must be an object of schemas, got {properties!r:.60}")
        if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
            raise InvalidSchema(f"{where}: required must be a list of property names, got {required!r:.60}")
        if not isinstance(extra, bool | Mapping):
            raise InvalidSchema(f"{where}: additionalProperties must be a boolean or a schema, got {extra!r:.60}")
        low = length_keyword(schema, "minProperties", where) or 0
        high = length_keyword(schema, "maxProperties", where)
        if high is not None and (high < low or high < len(set(required))):
            raise SynthesisError(f"{where}: maxProperties {high} leaves no room for its minProperties or required "
                                 "properties")
        fields: list[tuple[str, Generator]] = []
        for name in dict.fromkeys(required):  # required first: they stay when maxProperties cuts
            if name in properties:
                fields.append((name, self.compile(properties[name], f"{where}.{name}", path, minimal)))
            elif extra is False:
                raise SynthesisError(f"{where}: it requires {name!r}, which its properties do not define and "
                                     "additionalProperties: false forbids")
            else:
                fields.append((name, self.compile(extra, f"{where}.{name}", path, minimal)))
        if minimal is None:
            for name, sub in properties.items():
                if name not in required and (high is None or len(fields) < high):
                    try:
                        fields.append((name, self.compile(sub, f"{where}.{name}", path, minimal)))
                    except _NoFiniteValue:  # an optional field whose every value is infinite: left out
                        continue
        spare = (f"extra_{n}" for n in range(len(properties) + low + 1) if f"extra_{n}" not in properties)
        while len(fields) < low:
            if extra is False:
                raise SynthesisError(f"{where}: minProperties {low} needs more properties than it defines")
            name = next(spare)
            fields.append((name, self.compile(extra, f"{where}.{name}", path, minimal)))
        order = [name for name in properties if any(name == field for field, _ in fields)]
        order += [name for name, _ in fields if name not in properties]
        by_name = dict(fields)
        fields = [(name, by_name[name]) for name in order]  # the schema's own property order
        return lambda rng: {name: field(rng) for name, field in fields}

    def array(self, schema: Mapping[str, Any], where: str, path: tuple[str, ...],
              minimal: tuple[str, ...] | None) -> Generator:
        items = schema.get("items", True)
        prefix = schema.get("prefixItems") or []
        if isinstance(items, list):  # draft 4's tuple form
            prefix, items = items, schema.get("additionalItems", True)
        if not isinstance(prefix, list):
            raise InvalidSchema(f"{where}: prefixItems must be a list of schemas, got {prefix!r:.60}")
        low = length_keyword(schema, "minItems", where)
        high = length_keyword(schema, "maxItems", where)
        if low is not None and high is not None and low > high:
            raise SynthesisError(f"{where}: minItems {low} is above its maxItems {high}")
        if low is None:
            low = 0 if minimal is not None else min(1, high if high is not None else 1)
        high = low + (0 if minimal is not None else 2) if high is None else min(high, low + 2)
        heads = [self.compile(sub, f"{where}[{n}]", path, minimal) for n, sub in enumerate(prefix[:high])]
        tail: Generator | None = None
        if high > len(heads) and items is not False:
            try:
                tail = self.compile(items if items is not True else {"type": "string"}, f"{where}[]", path, minimal)
            except _NoFiniteValue:  # items whose every value is infinite: the array stays short
                if low > len(heads):
                    raise
        if tail is None:
            high = len(heads)
            if low > high:
                raise SynthesisError(f"{where}: minItems {low} needs more items than its schema allows")
        unique = schema.get("uniqueItems") is True

        def array(rng: Any) -> list[Any]:
            count = between(rng, low, high)
            values = [head(rng) for head in heads[:count]]
            if not unique:
                values += [tail(rng) for _ in range(count - len(values))]  # type: ignore[misc]
                return values
            seen = {_canonical(value) for value in values}
            for _ in range(4 * (count - len(values))):  # draw again while a value repeats
                if len(values) >= count:
                    break
                value = tail(rng)  # type: ignore[misc]
                if _canonical(value) not in seen:
                    seen.add(_canonical(value))
                    values.append(value)
            if len(values) < low or len(seen) < len(values):
                raise SynthesisError(f"cannot synthesize {where}: its items repeat, and uniqueItems needs {low} "
                                     "distinct ones")
            return values

        return array


def _merge(first: Mapping[str, Any], second: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Both schemas at once (allOf, or the keywords beside a union): properties and required
    joined, the tighter of two bounds, the common types and enum values; else the later wins."""
    merged = dict(first)
    for key, value in second.items():
        if key not in merged or key in _ANNOTATIONS:
            merged[key] = value
            continue
        mine = merged[key]
        if key == "properties" and isinstance(mine, Mapping) and isinstance(value, Mapping):
            merged[key] = {**mine, **{name: {"allOf": [mine[name], sub]} if name in mine else sub
                                      for name, sub in value.items()}}
        elif key == "required" and isinstance(mine, list) and isinstance(value, list):
            merged[key] = list(dict.fromkeys([*mine, *value]))
        elif key in ("items", "additionalProperties") and isinstance(mine, Mapping) and isinstance(value, Mapping):
            merged[key] = {"allOf": [mine, value]}
        elif key == "additionalProperties" and (mine is False or value is False):
            merged[key] = False
        elif key == "type":
            ours, theirs = _type_names(mine), _type_names(value)
            common = [kind for kind in theirs if kind in ours]
            if "integer" not in common and (("integer" in ours and "number" in theirs) or
                                            ("number" in ours and "integer" in theirs)):
                common.append("integer")  # an integer is a number
            if not common:
                raise SynthesisError(f"{where}: its allOf parts want types {mine!r} and {value!r}, which no value has")
            merged[key] = common
        elif key == "enum" and isinstance(mine, list) and isinstance(value, list):
            merged[key] = [item for item in mine if item in value]
        elif key == "const" and mine != value:
            raise SynthesisError(f"{where}: its allOf parts want both {mine!r:.30} and {value!r:.30}")
        elif key in _LOWER_BOUNDS and is_number(mine) and is_number(value):
            merged[key] = max(mine, value)
        elif key in _UPPER_BOUNDS and is_number(mine) and is_number(value):
            merged[key] = min(mine, value)
        elif key == "multipleOf" and isinstance(mine, int) and isinstance(value, int) and mine > 0 and value > 0:
            merged[key] = math.lcm(mine, value)
        elif key == "uniqueItems":
            merged[key] = mine is True or value is True
        elif key in ("anyOf", "oneOf", "pattern", "format", "multipleOf") and mine != value:
            raise SynthesisError(f"{where}: the emulator cannot combine two {key} values in one allOf "
                                 f"({mine!r:.40} and {value!r:.40})")
        else:
            merged[key] = value
    _close(merged, first, second, where)
    _close(merged, second, first, where)
    return merged


def _close(merged: dict[str, Any], part: Mapping[str, Any], other: Mapping[str, Any], where: str) -> None:
    """``part``'s additionalProperties also holds for the properties only ``other`` declares: with
    false such a property cannot be there (left out, or no value when it is required), with a
    schema its value must satisfy that schema too."""
    extra = part.get("additionalProperties", True)
    own, theirs, joined = part.get("properties") or {}, other.get("properties") or {}, merged.get("properties")
    if extra is True or not all(isinstance(m, Mapping) for m in (own, theirs, joined)):
        return
    for name in [name for name in theirs if name not in own]:
        if extra is False:
            if name in (merged.get("required") or []):
                raise SynthesisError(f"{where}: an allOf part requires {name!r}, which another forbids "
                                     "(additionalProperties: false)")
            merged["properties"] = {key: sub for key, sub in merged["properties"].items() if key != name}
        elif isinstance(extra, Mapping):
            merged["properties"] = {**merged["properties"], name: {"allOf": [merged["properties"][name], extra]}}


_LOWER_BOUNDS = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"})
_UPPER_BOUNDS = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"})


def _type_names(kind: Any) -> list[str]:
    return [str(k).lower() for k in (kind if isinstance(kind, list) else [kind])]


def _is_null(option: Any) -> bool:
    return isinstance(option, Mapping) and str(option.get("type", "")).lower() == "null"


def _kind(schema: Mapping[str, Any], where: str, small: bool) -> str:
    """The one type to make: the schema's (a list's first non-null, or null when ``small``), or the
    one its keywords imply."""
    kinds = _types(schema, where)
    if kinds:
        if small and "null" in kinds:
            return "null"
        return next((kind for kind in kinds if kind != "null"), "null")
    if any(key in schema for key in ("properties", "required", "additionalProperties", "minProperties")):
        return "object"
    if any(key in schema for key in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _types(schema: Mapping[str, Any], where: str) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return []
    kinds = kind if isinstance(kind, list) else [kind]
    if not kinds or not all(isinstance(k, str) and k.lower() in _TYPES for k in kinds):
        raise InvalidSchema(f"{where}: type must be one of {', '.join(sorted(_TYPES))} (or a list of them), "
                            f"got {kind!r:.60}")
    return [k.lower() for k in kinds]


def _fits(value: Any, schema: Mapping[str, Any], where: str) -> bool:
    """Whether ``value`` (a const or an enum member) has one of the schema's types."""
    kinds = _types(schema, where)
    if not kinds:
        return True
    checks = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "null": lambda v: v is None, "number": is_number,
              "integer": lambda v: is_number(v) and (isinstance(v, int) or v.is_integer())}
    return any(checks[kind](value) for kind in kinds)


def _enum(schema: Mapping[str, Any], where: str) -> list[Any]:
    values = schema["enum"]
    if not isinstance(values, list) or not values:
        raise InvalidSchema(f"{where}: enum must be a non-empty list, got {values!r:.60}")
    return values


#: keywords Anthropic's SDK (transform_schema, anthropic >= 0.73) moves into the description, as
#: "{minLength: 12, pattern: ^[A-Z]+$}" after a blank line, because its structured outputs do not
#: take them: Claude reads them there, and so does the emulator (values as Python's str() wrote them)
_HINTED = ("minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
           "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties")
_HINT_KEY = re.compile(r"(?:^|, )(" + "|".join(_HINTED) + r"): ")


def _has_hint(schema: Mapping[str, Any]) -> bool:
    text = schema.get("description")
    return isinstance(text, str) and text.endswith("}") and ("\n\n{" in text or text.startswith("{"))


def _with_hints(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with the keywords its description's hint names (an explicit keyword wins)."""
    text = schema["description"]
    hint = text[text.rindex("\n\n{") + 3 if "\n\n{" in text else 1:-1]
    keys = list(_HINT_KEY.finditer(hint))
    if not keys:  # braces, but none of the keywords: a description like any other
        return schema
    found: dict[str, Any] = {}
    for key, after in zip(keys, [*keys[1:], None], strict=True):
        raw = hint[key.end():after.start() if after is not None else len(hint)]
        name = key.group(1)
        if name in ("pattern", "format"):
            found[name] = raw
        elif raw in ("True", "False"):
            found[name] = raw == "True"
        else:
            try:
                found[name] = json.loads(raw)
            except ValueError:
                continue
    return {**found, **schema} if found else schema


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _resolve(ref: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if ref == "#":  # the root itself: a schema that contains itself
        return root
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise InvalidSchema(f"cannot resolve schema reference {ref!r:.80}: only local '#/...' references are "
                            "supported")
    node: Any = root
    for part in ref[2:].split("/"):
        try:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        except (KeyError, IndexError, TypeError):
            raise InvalidSchema(f"schema reference {ref!r} does not resolve (no {part!r})") from None
    return node


def violate(schema: Mapping[str, Any] | None, value: Any) -> Any:
    """Content that does not satisfy ``schema``: a required field dropped, or the wrong type."""
    if isinstance(value, dict) and value:
        broken = dict(value)
        broken.pop(next(iter(broken)))
        broken["unexpected_field"] = "pytest-batch schema violation"
        return broken
    return ["pytest-batch schema violation"]



#: leaves with no constraints, synthesized without walking the general path.
_PLAIN_KEYS = frozenset({"type", "title", "description"})
_LEAVES: dict[str, Generator] = {
    "string": plain_string, "STRING": plain_string, "integer": plain_integer, "INTEGER": plain_integer,
}
