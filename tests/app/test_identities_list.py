"""Every identity of docs/identities.txt against float64 central differences, independently of the certificate.

docs/identities.md is certified row by row with md.check (mpmath code printed by matderiv). Here the derivative of
each row and the row's function are both evaluated by ``reference`` (tests/conftest.py), a plain numpy interpreter
of the IR written in the tests, and compared along random directions with Richardson-extrapolated central
differences — a second, independent reference for the published table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

import matderiv as md
from conftest import reference
from matderiv.app import table
from matderiv.app.derive import parse_with_seed
from matderiv.core.expr import Expr

ROOT = Path(__file__).resolve().parents[2]
ROWS = [r for r in table.read_rows(str(ROOT / "docs" / "identities.txt")) if not isinstance(r, str)]
SIZES = [4, 3, 2, 5, 6, 7]


def _dims(exprs: list[Expr]) -> dict[str, int]:
    names = sorted({d.name for e in exprs for s in e.free_symbols for dim in s.shape
                    for d in sympy.sympify(dim).free_symbols})
    return dict(zip(names, SIZES))


def _values(syms: list[Expr], dims: dict[str, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Generic values in every row's domain: square matrices near 3I (invertible, det > 0), other entries in
    (0.5, 1.5) (positive for logs and roots, away from the kinks of abs and relu); symmetric ones symmetric."""
    out = {}
    for s in syms:
        shape = tuple(int(sympy.sympify(d).subs({sympy.Symbol(k, integer=True, positive=True): v
                                                  for k, v in dims.items()})) for d in s.shape)
        v = rng.uniform(0.5, 1.5, shape)
        if shape[0] == shape[1] and shape[0] > 1:
            v = 3 * np.eye(shape[0]) + 0.3 * (v - 1)
        if s.params[1]:
            v = (v + v.T) / 2
        out[s.name] = v
    return out


@pytest.mark.parametrize("row", ROWS, ids=[f"line {r.lineno}" for r in ROWS])
def test_identity_matches_central_differences(row: table.Row) -> None:
    f, seed = parse_with_seed(row.expr, row.seed) if row.seed else (md.parse(row.expr), None)
    w = next(s for s in f.free_symbols if s.name == row.wrt)
    g = md.grad(f, w) if seed is None else md.vjp(f, w, seed)
    phi = f if seed is None else md.sum(seed * f)  # ⟨seed, F⟩
    syms = sorted(phi.free_symbols, key=lambda s: s.name)
    dims = _dims([phi, g])
    rng = np.random.default_rng(row.lineno)
    vals = _values(syms, dims, rng)
    d = rng.standard_normal(vals[w.name].shape)
    if w.params[1]:
        d = (d + d.T) / 2  # stay on symmetric matrices
    derived = float(np.sum(reference(g, vals, dims) * d))

    def value(h: float) -> float:
        return float(reference(phi, {**vals, w.name: vals[w.name] + h * d}, dims).item())

    fd = {h: (value(h) - value(-h)) / (2 * h) for h in (1e-4, 5e-5)}
    estimate = (4 * fd[5e-5] - fd[1e-4]) / 3
    assert abs(derived - estimate) <= 1e-7 * (1 + abs(estimate)), (row.expr, str(g), derived, estimate)
