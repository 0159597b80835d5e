"""KaTeX itself, in strict mode, for the tests that render printed formulas.

.ci/run installs KaTeX from the npm registry into .ci/node_modules when npm is present; without node or KaTeX the
rendering tests skip (the structural checks of tests/printing/test_printing.py still run).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

KATEX = Path(__file__).resolve().parents[1] / ".ci" / "node_modules" / "katex"

RENDER = """
const katex = require(process.argv[1]);
const xs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const bad = [];
for (const s of xs) {
  try { katex.renderToString(s, {throwOnError: true, strict: 'error', displayMode: true}); }
  catch (e) { bad.push([s, e.message]); }
}
console.log(JSON.stringify(bad));
"""


def katex_errors(strings: list[str]) -> list[list[str]]:
    """[formula, KaTeX's message] for each string KaTeX refuses in strict display mode; skips without KaTeX."""
    if shutil.which("node") is None or not KATEX.is_dir():
        pytest.skip("node or KaTeX not installed")
    run = subprocess.run(["node", "-e", RENDER, str(KATEX)], input=json.dumps(strings), capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(run.stdout)
