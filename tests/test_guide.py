"""Every ```python block of docs/guide.md runs and prints exactly what the guide shows (doctest format).

The blocks share one namespace, in order, like cells of a notebook; each ``## `` section is one test.
"""
from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.md"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def sections() -> list[tuple[str, str]]:
    """(heading, the python blocks of that section joined) for the introduction and each ``## `` section."""
    out: list[tuple[str, str]] = []
    parts = re.split(r"^## ", GUIDE.read_text(encoding="utf-8"), flags=re.M)
    for k, part in enumerate(parts):
        blocks = re.findall(r"^```python\n(.*?)^```", part, flags=re.M | re.S)
        if blocks:
            out.append(("introduction" if k == 0 else part.splitlines()[0].strip(), "\n".join(blocks)))
    return out


SECTIONS = sections()


def test_the_guide_has_examples() -> None:
    assert len(SECTIONS) >= 8
    for title, code in SECTIONS:
        assert ">>> " in code, f"section {title!r} has a python block that is not in doctest form"


NAMESPACE: dict[str, object] = {}
DONE: list[int] = []  # how many sections have run into NAMESPACE


def run_section(i: int) -> tuple[int, str]:
    """Run section i in the shared namespace (after the sections before it); (failures, report)."""
    title, code = SECTIONS[i]
    test = doctest.DocTestParser().get_doctest(code, NAMESPACE, title, str(GUIDE), 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    NAMESPACE.update(test.globs)
    DONE.append(i)
    return runner.failures, "".join(report)


@pytest.mark.parametrize("i", range(len(SECTIONS)), ids=[t for t, _ in SECTIONS])
def test_section(i: int) -> None:
    for j in range(len(DONE), i):  # a section may use names from the ones before it
        run_section(j)
    failures, report = run_section(i)
    assert failures == 0, report
