"""bench/bench.py's rows compute what they claim: at a small size, the generated gradient of every row agrees with
the row's hand-written numpy (the benchmark checks this again at its own sizes before timing)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import matderiv as md

_spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parents[2] / "bench" / "bench.py")
bench = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("bench", bench)  # its dataclasses look their module up
_spec.loader.exec_module(bench)  # type: ignore[union-attr]


@pytest.mark.parametrize("case", bench.CASES, ids=[c.label for c in bench.CASES])
def test_generated_matches_hand_written(case) -> None:
    f, wrt, seed, args = case.build("")
    g = md.grad(f, wrt) if seed is None else md.vjp(f, wrt, seed)
    vals = case.inputs(40, np.random.default_rng(3))
    want = case.hand(**vals)
    got = md.lambdify(args, g)(*vals.values())
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_new_rows_are_benchmarked() -> None:
    labels = " ".join(c.label for c in bench.CASES)
    assert "GP" in labels and "softmax regression" in labels and "attention" in labels
    assert bench.TARGET_RATIO == 1.1
