"""Domains: where an op's argument must lie for the op to be defined and differentiable.

A :class:`Domain` answers three questions for the certificate: is this value inside (``contains``, on mpmath
values; ``strict`` for values a user gave, generous margins for random ones), how to bias random generic points
toward it (``hints``), and how to say what it needs in an error message (``description``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np

AWAY = 1e-3  # random points keep this far from kinks, from 0 under log/sqrt/1/x, and norms this far from 0
SATURATE = 10.0  # random sigmoid/tanh arguments stay within ±this: σ(1−σ), 1−tanh² lose float64 digits beyond
COND_MAX = 1e4  # a random square matrix under inv/solve/det must be at least this well-conditioned
COND_STRICT = 1e12  # a given one at least this


def entries(v: Any) -> list[Any]:
    """The entries of an mpmath matrix (or a number), row by row."""
    if isinstance(v, mpmath.matrix):
        return [v[i, j] for i in range(v.rows) for j in range(v.cols)]
    return [v]


@dataclass(frozen=True, eq=False)
class Domain:
    """``contains(entries, matrix, strict)``: membership; ``hints``: how random points are drawn — ``positive``
    (entries in (0.5, 1.5)), ``shift`` (a diagonal shift √n·I, well-conditioned), ``small`` (entries × 0.3),
    ``symmetric`` (a symmetric matrix), ``spd`` (a symmetric positive definite matrix)."""

    name: str
    description: str
    contains: Callable[[list[Any], Any, bool], bool]
    hints: frozenset[str] = frozenset()

    def __call__(self, value: Any, strict: bool = False) -> bool:
        """Whether the mpmath value lies in the domain (finite entries first)."""
        es = entries(value)
        if any(not isinstance(e, mpmath.mpf) or not mpmath.isfinite(e) for e in es):
            return False
        return self.contains(es, value, strict)

    def __repr__(self) -> str:
        return f"Domain({self.name!r})"


def _float_matrix(m: Any) -> np.ndarray:
    m = m if isinstance(m, mpmath.matrix) else mpmath.matrix([[m]])
    return np.array([[float(m[i, j]) for j in range(m.cols)] for i in range(m.rows)])


def _conditioned(m: Any, strict: bool) -> bool:
    cond = np.linalg.cond(_float_matrix(m))
    return bool(np.isfinite(cond) and cond <= (COND_STRICT if strict else COND_MAX))


def _away(strict: bool) -> float:
    return 0.0 if strict else AWAY


def _spd(es: list[Any], m: Any, strict: bool) -> bool:
    """(A + Aᵀ)/2 positive definite (and, for random points, well-conditioned): the ops that need it read the
    symmetric part, so A itself need not be symmetric."""
    a = _float_matrix(m)
    w = np.linalg.eigvalsh((a + a.T) / 2)
    return bool(w[0] > 0 and (strict or w[-1] / w[0] <= COND_MAX))


EVERYWHERE = Domain("reals", "any real entries", lambda es, m, strict: True)
INVERTIBLE = Domain("invertible", "a well-conditioned (invertible) matrix",
                    lambda es, m, strict: _conditioned(m, strict), frozenset({"shift"}))
def _positive_det(es: list[Any], m: Any, strict: bool) -> bool:
    """Well-conditioned with a positive determinant. The sign comes from float64 LU (numpy's slogdet): for a
    condition number ≤ 1e12 the rounding cannot move the matrix across det = 0, and an mpmath determinant of a
    50×50 matrix would cost a quarter of a second."""
    if not isinstance(m, mpmath.matrix):
        return es[0] > 0
    return _conditioned(m, strict) and float(np.linalg.slogdet(_float_matrix(m))[0]) > 0


POSITIVE_DET = Domain("positive-det", "a positive determinant", _positive_det, frozenset({"shift"}))
SPD = Domain("spd", "a symmetric positive definite matrix (its symmetric part)", _spd, frozenset({"spd"}))
NONZERO = Domain("nonzero", "a nonzero argument",
                 lambda es, m, strict: mpmath.sqrt(mpmath.fsum(e * e for e in es)) > _away(strict))
POSITIVE = Domain("positive", "positive entries", lambda es, m, strict: all(e > _away(strict) for e in es),
                  frozenset({"positive"}))
NONZERO_ENTRIES = Domain("nonzero-entries", "nonzero entries",
                         lambda es, m, strict: all(abs(e) > _away(strict) for e in es))
KINK = Domain("kink", "entries away from 0 (a kink)", lambda es, m, strict: all(abs(e) > _away(strict) for e in es))
BOUNDED = Domain("bounded", "entries with |x| < 1", lambda es, m, strict: strict or all(abs(e) < 1 for e in es),
                 frozenset({"small"}))
MODERATE = Domain("moderate", f"entries with |x| ≤ {SATURATE:g} (not saturated)",
                  lambda es, m, strict: strict or all(abs(e) <= SATURATE for e in es))

__all__ = ["Domain", "EVERYWHERE", "INVERTIBLE", "POSITIVE_DET", "SPD", "NONZERO", "POSITIVE", "NONZERO_ENTRIES",
           "KINK", "BOUNDED", "MODERATE", "entries", "AWAY", "SATURATE", "COND_MAX"]
