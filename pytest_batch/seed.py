"""The canonical example: ten prompts, the ``User`` they describe, and the expected answers.

From the seed README (Instructor's batch examples): every provider must extract
Alice/28 ... Ryan/41 from these prompts, in this order.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class User(BaseModel):
    name: str
    age: int


SEED_PROMPTS: tuple[str, ...] = (
    "Hi there! My name is Alice and I'm 28 years old. I work as a software engineer.",
    "Hello, I'm Bob, 35 years old, and I love hiking and photography.",
    "This is Sarah speaking. I'm 42 and I'm a graphic designer.",
    "Hey! John here, I'm 29 years old and I teach high school math.",
    "I'm Emma, 33 years old, currently working as a marketing manager.",
    "My name is Michael and I'm 45 years old. I'm a chef at a downtown restaurant.",
    "I'm Lisa, 31 years old, working as a nurse at the local hospital.",
    "This is David, 38 years old, I'm a freelance photographer.",
    "Hello, I'm Jessica, 26 years old, and I'm a data scientist.",
    "I'm Ryan, 41 years old, working in software development for a tech startup.",
)

EXPECTED_USERS: tuple[User, ...] = tuple(
    User(name=name, age=age)
    for name, age in (
        ("Alice", 28), ("Bob", 35), ("Sarah", 42), ("John", 29), ("Emma", 33),
        ("Michael", 45), ("Lisa", 31), ("David", 38), ("Jessica", 26), ("Ryan", 41),
    )
)


def seed_expectations() -> list[dict[str, Any]]:
    """The emulator's expectations for the ten prompts: each prompt answers with its user.

    Matching is on the prompt's exact text, so other prompts mentioning "Alice" are not
    caught by accident.
    """
    return [
        {"match": prompt, "response": user.model_dump()}
        for prompt, user in zip(SEED_PROMPTS, EXPECTED_USERS, strict=True)
    ]
