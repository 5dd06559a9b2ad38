"""Property-based tests of schema synthesis: any JSON schema of the kinds pydantic and users write,
and garbage, gives either a ``SynthesisError`` that says why or a value the schema accepts (checked
by the ``jsonschema`` validator), the same value for the same seed; and any nested pydantic model
gets answers that its own ``model_validate_json`` accepts, through the real SDKs on every provider.
Bounded so they take a few seconds."""

from __future__ import annotations

import datetime
import enum
import json
import uuid
from typing import Annotated, Any, Literal, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, create_model

from pytest_batch.processor import BatchProcessor
from pytest_batch.sim import Emulator
from pytest_batch.sim.synthesis import InvalidSchema, ItemRandom, SynthesisError, compile_schema

jsonschema = pytest.importorskip("jsonschema")

BOUNDED = settings(max_examples=60, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                          HealthCheck.function_scoped_fixture])
DEFS = ("Node", "Item", "Leaf")
NAMES = st.sampled_from(["a", "b", "c", "d", "id", "name", "value"])
SMALL = st.integers(min_value=0, max_value=6)
BOUND = st.integers(min_value=-50, max_value=50) | st.floats(min_value=-50, max_value=50, allow_nan=False)
SCALAR = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False) | st.text(max_size=4)
#: patterns the emulator generates, and one it cannot (a lookahead): that one must be a SynthesisError
PATTERNS = st.sampled_from([r"^[A-Z]{2}\d{3}$", r"^[a-z]+@[a-z]+\.com$", r"\d+", r"^(ab|cd)+$", r"^\w{2,5}$",
                            r"^(?=a)a$", r"^x{7}$"])
#: descriptions, some with the constraints anthropic's transform_schema moves into them
HINTS = st.sampled_from(["a text field", "{minLength: 3}", "Notes.\n\n{format: date, unknown: 1}", "{}", "{a}",
                         "{pattern: ^[a-z]{2}$, maxLength: 2}", "x\n\n{minimum: 5, maximum: 3}", "{maxLength: x}"])
FORMATS = st.sampled_from(["date", "date-time", "time", "email", "uri", "uuid", "ipv4", "hostname", "text"])


def with_some(base: dict[str, Any], **options: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` plus any subset of the optional keywords."""
    return st.fixed_dictionaries(base, optional=options).map(dict)


def typed(kind: str) -> st.SearchStrategy[Any]:
    """A JSON Schema type, or that type or null (pydantic's Optional written as a type list)."""
    return st.sampled_from([kind, [kind, "null"], ["null", kind]])


STRINGS = with_some({"type": typed("string")}, minLength=SMALL, maxLength=st.integers(0, 30), format=FORMATS,
                    pattern=PATTERNS, description=HINTS)
INTEGERS = with_some({"type": typed("integer")}, description=HINTS, minimum=BOUND, maximum=BOUND,
                     exclusiveMinimum=BOUND, exclusiveMaximum=BOUND, multipleOf=st.sampled_from([1, 2, 5, 7, 0.5, 2.5]))
NUMBERS = with_some({"type": typed("number")}, minimum=BOUND, maximum=BOUND, exclusiveMinimum=BOUND,
                    exclusiveMaximum=BOUND, multipleOf=st.sampled_from([0.1, 0.25, 0.3, 3, 10]))
LEAVES = st.one_of(
    STRINGS, INTEGERS, NUMBERS,
    st.sampled_from([{"type": "boolean"}, {"type": "null"}, {"type": "string"}, {"type": "integer"}, {},
                     {"type": "STRING"}, {"type": "INTEGER", "nullable": True}, True]),
    with_some({"enum": st.lists(SCALAR, min_size=1, max_size=4)}, type=st.sampled_from(["string", "integer"])),
    with_some({"const": SCALAR}, type=st.sampled_from(["string", "number", "boolean", "null"])),
    st.sampled_from(DEFS).map(lambda name: {"$ref": f"#/$defs/{name}"}),
    st.sampled_from(DEFS).map(lambda name: {"$ref": f"#/$defs/{name}", "description": "see " + name}),
)
#: schemas no provider accepts: each must be an InvalidSchema, never another exception
GARBAGE = st.sampled_from([
    5, "string", None, [], [{"type": "string"}], {"type": 7}, {"type": "text"}, {"type": ["string", 3]},
    {"enum": "abc"}, {"enum": []}, {"properties": 5}, {"type": "object", "required": "a"},
    {"type": "object", "properties": {"a": 5}}, {"anyOf": []}, {"oneOf": {"type": "string"}}, {"allOf": 3},
    {"allOf": [4]}, {"$ref": 5}, {"$ref": "#/$defs/Missing"}, {"$ref": "https://example.com/s.json"},
    {"type": "integer", "minimum": "a"}, {"type": "number", "multipleOf": 0}, {"type": "number", "maximum": [1]},
    {"type": "array", "items": 5}, {"type": "array", "minItems": "x"}, {"type": "string", "maxLength": -1},
    {"type": "string", "pattern": 5}, {"type": "object", "additionalProperties": "no"},
    {"type": "array", "prefixItems": {"type": "string"}},
])


def objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        properties = draw(st.dictionaries(NAMES, children, max_size=4))
        names = list(properties) + ["undeclared"]
        schema: dict[str, Any] = {"type": draw(typed("object")), "properties": properties,
                                  "required": draw(st.lists(st.sampled_from(names), max_size=3, unique=True))}
        extra = draw(st.sampled_from(["absent", False, True, "schema"]))
        if extra == "schema":
            schema["additionalProperties"] = draw(children)
        elif extra != "absent":
            schema["additionalProperties"] = extra
        for key in ("minProperties", "maxProperties"):
            if draw(st.integers(0, 5)) == 0:
                schema[key] = draw(SMALL)
        return schema

    return build()


def disjoint_options(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """oneOf options no value satisfies two of (as pydantic's discriminated unions are): one
    object per ``kind`` constant, or leaves of distinct types."""
    tagged = st.lists(st.sampled_from(["cat", "dog", "fish"]), min_size=1, max_size=3, unique=True).flatmap(
        lambda kinds: st.tuples(*[objects(children).map(
            lambda schema, kind=kind: {**schema, "type": "object", "additionalProperties": schema.get(
                "additionalProperties", True), "properties": {**schema["properties"], "kind": {"const": kind}},
                "required": [*schema["required"], "kind"]}) for kind in kinds]).map(list))
    typed_leaves = st.lists(st.sampled_from(["string", "boolean", "null", "integer"]), min_size=1, max_size=4,
                            unique=True).map(lambda kinds: [{"type": kind} for kind in kinds])
    return tagged | typed_leaves


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        objects(children),
        with_some({"type": typed("array"), "items": children}, minItems=SMALL, maxItems=SMALL,
                  uniqueItems=st.booleans()),
        st.lists(children, min_size=1, max_size=3).map(lambda options: {"anyOf": options}),
        st.lists(children, min_size=1, max_size=2).map(lambda options: {"anyOf": [*options, {"type": "null"}],
                                                                        "default": None}),
        disjoint_options(children).map(lambda options: {"oneOf": options}),
        st.lists(objects(children) | INTEGERS, min_size=1, max_size=3).map(lambda parts: {"allOf": parts}),
    )


SCHEMA_NODES = st.recursive(LEAVES, containers, max_leaves=8)
DEF_NODES = st.recursive(LEAVES, containers, max_leaves=4)


@st.composite
def schemas(draw: st.DrawFn) -> Any:
    """A root schema with $defs that refer to each other and to themselves, or garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(GARBAGE)
    root = draw(SCHEMA_NODES)
    if not isinstance(root, dict):
        return root
    defs = {name: draw(DEF_NODES) for name in DEFS}
    return {**root, "$defs": defs} if "$defs" not in root else root


def validator_for(schema: Any) -> Any:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def unlike_providers(schema: Any) -> bool:
    """Keywords in the spellings only Gemini (uppercase types, nullable) uses: valid for the
    emulator, unknown to a JSON Schema validator."""
    text = json.dumps(schema)
    return any(word in text for word in ('"STRING"', '"INTEGER"', '"nullable"'))


@BOUNDED
@given(schema=schemas(), seed=st.integers(0, 2**32))
def test_any_schema_gives_a_valid_value_or_a_synthesis_error(schema, seed):
    try:
        value = compile_schema(schema)(ItemRandom(seed))
    except SynthesisError as exc:  # never RecursionError, KeyError, TypeError...
        assert str(exc).strip(), "a SynthesisError must say what is wrong"
        return
    if unlike_providers(schema):
        return
    jsonschema.Draft202012Validator.check_schema(schema)  # garbage must never give a value
    try:
        errors = [error.message for error in validator_for(schema).iter_errors(value)]
    except RecursionError:  # jsonschema itself loops on a union with an option that is the union
        return
    assert not errors, f"{value!r} does not satisfy the schema: {errors}"


@settings(BOUNDED, max_examples=30)
@given(schema=GARBAGE)
def test_a_schema_no_provider_accepts_is_an_invalid_schema_error(schema):
    with pytest.raises(InvalidSchema) as info:
        compile_schema(schema)(ItemRandom(1))
    assert str(info.value).strip()


@settings(BOUNDED, max_examples=15)
@given(schema=schemas(), seed=st.integers(0, 2**32))
def test_the_same_schema_and_seed_give_the_same_value(schema, seed):
    try:
        first = compile_schema(schema)(ItemRandom(seed))
    except SynthesisError:
        return
    generator = compile_schema(json.loads(json.dumps(schema)))  # an equal schema, compiled again
    assert generator(ItemRandom(seed)) == first
    assert generator(ItemRandom(seed)) == first  # and the compiled generator keeps no state


def test_a_recursive_model_ends_in_its_smallest_value_and_an_infinite_one_says_so():
    tree = {"$defs": {"Node": {"type": "object", "required": ["label", "children"],
                               "properties": {"label": {"type": "string"},
                                              "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                                              "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}}}},
            "$ref": "#/$defs/Node"}
    value = compile_schema(tree)(ItemRandom(3))
    validator_for(tree).validate(value)
    depth, node = 0, value
    while node["children"]:
        depth, node = depth + 1, node["children"][0]
    assert 1 <= depth <= 3  # expanded in full twice, then the smallest tree
    endless = {"type": "object", "required": ["next"], "properties": {"next": {"$ref": "#"}}}
    with pytest.raises(SynthesisError, match="none is finite"):
        compile_schema(endless)


def test_a_model_nested_ten_levels_deep_is_answered_in_full():
    schema: dict[str, Any] = {"type": "integer", "minimum": 7, "maximum": 7}
    for level in range(10):
        schema = {"type": "object", "title": f"L{level}", "required": ["x"], "properties": {"x": schema}}
    value = compile_schema(schema)(ItemRandom(0))
    for _ in range(10):
        value = value["x"]
    assert value == 7


def test_constraints_anthropics_sdk_moved_into_descriptions_are_kept():
    """anthropic's transform_schema writes minLength, pattern, minimum... into the description
    ("{minLength: 12, pattern: ^[A-Z]+$}"): Claude follows them there, and so must the emulator."""
    anthropic = pytest.importorskip("anthropic")
    if not hasattr(anthropic, "transform_schema"):
        pytest.skip("this anthropic has no transform_schema")

    class Part(BaseModel):
        code: str = Field(pattern=r"^[A-Z]{2}\d{3}$", description="the part's code")
        name: str = Field(min_length=12, max_length=14)
        count: int = Field(ge=18, le=20, multiple_of=2)
        ratio: float = Field(gt=0.5, lt=0.75)
        tags: list[str] = Field(min_length=2, max_length=3)

    schema = anthropic.transform_schema(Part)
    assert "minLength" in json.dumps(schema) and "minLength" not in schema["properties"]["name"]
    for seed in range(20):
        Part.model_validate_json(json.dumps(compile_schema(schema)(ItemRandom(seed))))
    defined = {"$defs": {"Code": {"type": "string", "description": "A code.\n\n{minLength: 15}"}},
               "type": "object", "required": ["c"], "properties": {"c": {"$ref": "#/$defs/Code"}}}
    assert len(compile_schema(defined)(ItemRandom(1))["c"]) >= 15  # a definition's own hint
    assert compile_schema({"type": "string", "description": "{default: None}"})(ItemRandom(1))


# ---------------------------------------------------------------------------- users' own models

class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 3


LEAF_TYPES = st.sampled_from([
    str, int, float, bool, datetime.date, datetime.datetime, uuid.UUID, Color, Size, Literal["x", "y"],
    Literal[1, 2, 3], Annotated[str, Field(min_length=3, max_length=8)], Annotated[str, Field(max_length=2)],
    Annotated[int, Field(ge=18, le=99)], Annotated[int, Field(gt=-10, lt=-5)], Annotated[int, Field(multiple_of=5)],
    Annotated[float, Field(gt=0, lt=1)], Annotated[float, Field(ge=-1e6, le=-1e5)],
    Annotated[str, Field(pattern=r"^[A-Z]{3}-\d{2}$")], Annotated[int, Field(ge=1, multiple_of=3, le=9)],
])
_models = iter(range(10**9))


def nested_types(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        children.map(lambda t: Optional[t]),  # noqa: UP045 - the spelling users still write
        children.map(lambda t: list[t]),
        st.tuples(children, st.integers(0, 2), st.integers(0, 2)).map(
            lambda a: Annotated[list[a[0]], Field(min_length=a[1], max_length=a[1] + a[2])]),
        children.map(lambda t: dict[str, t]),
        st.tuples(children, children).map(lambda pair: pair[0] | pair[1] if pair[0] is not pair[1] else pair[0]),
        st.lists(children, min_size=1, max_size=4).map(make_model),
    )


def make_model(field_types: list[Any]) -> type[BaseModel]:
    fields = {f"f{n}": (kind, ...) for n, kind in enumerate(field_types)}
    return create_model(f"Model{next(_models)}", **fields)


FIELD_TYPES = st.recursive(LEAF_TYPES, nested_types, max_leaves=8)
MODELS = st.lists(FIELD_TYPES, min_size=1, max_size=5).map(make_model)


@settings(BOUNDED, max_examples=40)
@given(model=MODELS, seed=st.integers(0, 2**32))
def test_any_nested_pydantic_model_validates_its_synthetic_answer(model, seed):
    value = compile_schema(model.model_json_schema())(ItemRandom(seed))
    model.model_validate_json(json.dumps(value))


@pytest.mark.parametrize("provider", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash"])
def test_nested_models_parse_through_the_real_sdks_on_every_provider(provider):
    """The whole way a user's answers go: the processor's schema for the provider (OpenAI's strict
    form, Anthropic's transformed one, Gemini's), the SDK, the emulator, and the processor's parse."""

    @settings(BOUNDED, max_examples=4)
    @given(model=MODELS)
    def run(model):
        emulator = Emulator(seed=5)
        client = getattr(emulator, f"{provider.split('/')[0]}_client")()
        with BatchProcessor(provider, model, client=client, sleep=lambda seconds: None) as processor:
            job = processor.wait(processor.submit(["one", "two"]))
            items = list(processor.results(job).in_input_order())
        assert [item.ok for item in items] == [True, True], [getattr(item, "message", item) for item in items]
        assert all(isinstance(item.value, model) for item in items)

    run()
