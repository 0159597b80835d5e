"""Every ```python block of docs/checking.md runs: doctest blocks print what the page shows, the validation script
passes, and the pytest example passes under pytest. Sections (## and ###) share one namespace, in order; the
sections that use torch are skipped without it."""
from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "checking.md"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


def sections() -> list[tuple[str, list[str]]]:
    out = []
    for k, part in enumerate(re.split(r"^##+ ", DOC.read_text(encoding="utf-8"), flags=re.M)):
        blocks = re.findall(r"^```python\n(.*?)^```", part, flags=re.M | re.S)
        if blocks:
            out.append(("introduction" if k == 0 else part.splitlines()[0].strip(), blocks))
    return out


SECTIONS = sections()
NAMESPACE: dict[str, object] = {}
DONE: list[int] = []


def _uses_torch(i: int) -> bool:
    return any("torch" in b for b in SECTIONS[i][1])


def run_section(i: int, tmp: Path) -> None:
    title, blocks = SECTIONS[i]
    for j, code in enumerate(blocks):
        if code.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(code, NAMESPACE, title, str(DOC), 0)
            runner = doctest.DocTestRunner(optionflags=FLAGS)
            report: list[str] = []
            runner.run(test, out=report.append, clear_globs=False)
            NAMESPACE.update(test.globs)
            assert runner.failures == 0, "".join(report)
        elif "import pytest" in code:
            path = tmp / f"test_doc_example_{i}_{j}.py"
            path.write_text(code, encoding="utf-8")
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DOC.parents[1]), os.environ.get("PYTHONPATH", "")]))
            res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
                                 capture_output=True, text=True, cwd=tmp, env=env)
            assert res.returncode == 0, res.stdout + res.stderr
            assert " passed" in res.stdout
        else:
            ns: dict[str, object] = {"__name__": "doc_script"}
            exec(compile(code, f"{DOC.name}:{title}", "exec"), ns)  # the page's own example script
            assert ns.get("ok") is True, f"the script in {title!r} did not pass"


def test_the_page_has_examples() -> None:
    assert len(SECTIONS) >= 6


@pytest.mark.parametrize("i", range(len(SECTIONS)), ids=[t for t, _ in SECTIONS])
def test_section(i: int, tmp_path: Path) -> None:
    if _uses_torch(i) and not HAVE_TORCH:
        pytest.skip("torch is not installed")
    for j in range(len(DONE), i):
        if not (_uses_torch(j) and not HAVE_TORCH):
            run_section(j, tmp_path)
        DONE.append(j)
    run_section(i, tmp_path)
    DONE.append(i)
