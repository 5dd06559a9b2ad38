"""The SDK matrix: pytest-batch's core end-to-end tests (``-m sdk_matrix``: emulator round trips,
the processor, the plugin's simulate/record/replay, the CLI round trip, respx and aiohttp) on
the oldest supported release of each SDK and on the newest, each combination in its own venv.

    nox -l                                   # every session
    nox -s "sdks(oldest)"                    # openai, anthropic and google-genai at pyproject's floors
    nox -s "sdks(newest)"                    # the latest release of each
    nox -s "sdks(openai-oldest)"             # one SDK at its floor, the others newest
    nox -s tests                             # the whole suite on the newest SDKs

The floors are read from pyproject.toml (``openai>=X`` becomes ``openai==X``), so the matrix
tests exactly what the package declares. ``.ci/run`` runs ``sdks(oldest)``, then the README's test command.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"

SDKS = ("openai", "anthropic", "google-genai")


def floors() -> dict[str, str]:
    """Each SDK's lowest supported release, from pyproject's ``dependencies``."""
    declared = tomllib.loads(Path(__file__).with_name("pyproject.toml").read_text())["project"]["dependencies"]
    found = {}
    for requirement in declared:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement.split(";")[0].strip())
        if match and match.group(1) in SDKS:
            found[match.group(1)] = match.group(2)
    missing = set(SDKS) - set(found)
    if missing:
        raise SystemExit(f"pyproject.toml declares no floor (NAME>=VERSION) for {', '.join(sorted(missing))}")
    return found


#: combination -> the SDKs pinned to their floor (the rest get their newest release)
COMBINATIONS = {
    "oldest": SDKS,
    "newest": (),
    **{f"{name.removesuffix('-genai')}-oldest": (name,) for name in SDKS},
}


SHOW_VERSIONS = f"import importlib.metadata as m; print(*(f'{{n}} {{m.version(n)}}' for n in {SDKS!r}), sep=', ')"


@nox.session
@nox.parametrize("combination", list(COMBINATIONS), ids=list(COMBINATIONS))
def sdks(session: nox.Session, combination: str) -> None:
    """The sdk_matrix tests with the given SDKs at their floors and the others at their newest."""
    pinned = COMBINATIONS[combination]
    lowest = floors()
    requirements = [f"{name}=={lowest[name]}" if name in pinned else name for name in SDKS]
    session.install(".[test]", *requirements)
    session.run("python", "-c", SHOW_VERSIONS)
    session.run("python", "-m", "pytest", "-m", "sdk_matrix", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, newest SDKs, in a venv of its own (.ci/run runs the same command after sdks(oldest))."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-n", "2", *session.posargs)
