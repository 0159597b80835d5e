"""Numerical references for directional derivatives ∂φ(x)[D] of a scalar φ of several array inputs.

Two references, both independent of any derivative rule:

* :class:`MpmathReference` — φ evaluated in mpmath at ``wp = 2·dps + 10`` digits with the step ``h = 10^−(dps+5)``
  (relative to the direction, whose entries are scaled like the inputs): the central quotient
  (φ(x+hD) − φ(x−hD))/2h has truncation error O(h²) and rounding error 10^−wp/h, both far below 10^−dps, and the
  one-sided quotients (φ(x±hD) − φ(x))/±h come for free from φ(x), which tells a kink from a smooth point. With
  ``verify=True`` (black-box functions) everything is computed again at dps + 20 digits: the change estimates the
  reference's own error, and a function that ignores the working precision (its value does not move under
  the perturbation hD, or agrees between the two precisions only to float64's 16 digits) is detected
  (:class:`PrecisionIgnored`) instead of giving a silent zero derivative.
* :class:`Float64Reference` — float64 central differences extrapolated to h → 0 by Ridders' method (a Richardson
  tableau with steps h₀/2ᵏ) with its error estimate, for functions that compute only in float64 (a torch module,
  numpy's linalg); one-sided tableaux on demand, for the kink classification.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

U = 2.0 ** -53  # float64 unit round-off


@dataclass
class Numeric:
    """A numerical directional derivative: the central value, the one-sided ones (when computed), and the
    estimated absolute errors of the central and the one-sided values."""

    central: Any
    err: float
    left: Any = None
    right: Any = None
    err_one: float | None = None
    evals: int = 0


class PrecisionIgnored(Exception):
    """The function's mpmath value does not follow the working precision (internal; the caller falls back)."""


def to_mp(a: np.ndarray) -> np.ndarray:
    """A float (or object) array as an object array of mpf at the ambient precision (float values kept exact)."""
    arr = np.asarray(a)
    out = np.empty(arr.shape, dtype=object)
    for idx, v in np.ndenumerate(arr):
        if isinstance(v, mpmath.mpf):
            out[idx] = v
        elif isinstance(v, (int, np.integer)):
            out[idx] = mpmath.mpf(int(v))
        else:
            out[idx] = mpmath.mpf(float(v))
    return out


def dot_exact(g: np.ndarray, d: np.ndarray) -> Any:
    """Σ gᵢ dᵢ of two float64 arrays as an mpf, exact up to 10^−(mp.dps) (products of floats need 106 bits)."""
    gs, ds = np.asarray(g, dtype=float).ravel(), np.asarray(d, dtype=float).ravel()
    nz = np.nonzero(gs * ds)[0] if gs.size else []
    with mpmath.workprec(max(mpmath.mp.prec, 120) + 40):
        return +mpmath.fsum(mpmath.mpf(float(gs[k])) * mpmath.mpf(float(ds[k])) for k in nz)


def _mag(v: Any) -> float:
    try:
        return abs(float(v))
    except (TypeError, ValueError, OverflowError):  # pragma: no cover - mpf beyond float range
        return float("inf")


class MpmathReference:
    """Central and one-sided differences of ``phi`` (object arrays of mpf → an mpf) at ``dps`` digits."""

    kind = "mpmath"

    def __init__(self, phi: Callable[[list[np.ndarray]], Any], x0: Sequence[np.ndarray], dps: int,
                 verify: bool = False, what: str = "the function") -> None:
        self.phi, self.x0, self.dps, self.verify, self.what = phi, [np.asarray(v) for v in x0], dps, verify, what
        self.evals = 0
        self.levels = [dps, dps + 20] if verify else [dps]
        self._base: dict[int, tuple[list[np.ndarray], Any]] = {}
        self.value_digits: float | None = None  # digits to which φ(x) agrees between dps and dps + 20
        self.worst_rel_err = 0.0  # the largest relative error estimate seen (for "good for N digits")

    def _eval(self, vals: list[np.ndarray]) -> Any:
        self.evals += 1
        v = self.phi(vals)
        if isinstance(v, np.ndarray) and v.size == 1:
            v = v.reshape(-1)[0]
        if not isinstance(v, (mpmath.mpf, int)):
            raise PrecisionIgnored(f"{self.what} returned {type(v).__name__}, not an mpmath number")
        return mpmath.mpf(v)

    def base(self, level: int) -> tuple[list[np.ndarray], Any]:
        if level not in self._base:
            with mpmath.workdps(2 * level + 10):
                xs = [to_mp(v) for v in self.x0]
                self._base[level] = (xs, self._eval(xs))
        return self._base[level]

    def start(self) -> None:
        """Evaluate φ(x) at every level; with verify, check that φ follows the working precision."""
        values = [self.base(level)[1] for level in self.levels]
        if self.verify:
            a, b = values
            if a == b or a == 0:
                self.value_digits = float(self.levels[1])
            else:
                scale = max(abs(a), abs(b))
                self.value_digits = min(float(self.levels[1]), -float(mpmath.log10(abs(a - b) / scale)))
            if self.value_digits < self.dps - 5:
                raise PrecisionIgnored(
                    f"{self.what} agrees with itself between dps={self.levels[0]} and dps={self.levels[1]} "
                    f"only to {self.value_digits:.1f} digits: it ignores the working precision (a float64 step "
                    f"inside, such as float() or a numpy ufunc on floats)")

    def _quotients(self, level: int, i: int, d: np.ndarray) -> tuple[Any, Any, Any, Any, Any]:
        xs, base = self.base(level)
        with mpmath.workdps(2 * level + 10):
            h = mpmath.mpf(10) ** -(level + 5)
            dm = to_mp(d)
            plus, minus = list(xs), list(xs)
            plus[i], minus[i] = xs[i] + h * dm, xs[i] - h * dm
            fp, fm = self._eval(plus), self._eval(minus)
            central = (fp - fm) / (2 * h)
            right, left = (fp - base) / h, (base - fm) / h
            noise = mpmath.mpf(10) ** -(2 * level + 9) * max(abs(fp), abs(fm), abs(base)) / h
            return central, left, right, noise, (fp, fm, base)

    def directional(self, i: int, d: np.ndarray, one_sided: bool = True) -> Numeric:
        central, left, right, noise, (fp, fm, base) = self._quotients(self.levels[0], i, d)
        if self.verify and fp == fm == base and np.any(np.asarray(d, dtype=float) != 0):
            self._flat_check(i, d)
        err = _mag(noise) + _mag(right - left) * 10.0 ** -(self.dps + 5)  # rounding + an O(h²) truncation proxy
        # at a smooth point the one-sided values differ by h·φ'' (h = 10^-(dps+5)); a kink makes them differ by
        # O(1): half the digits tell the two apart with room on both sides
        err_one = _mag(noise) + 10.0 ** -(self.dps / 2) * max(_mag(left), _mag(right))
        if self.verify:
            c2, l2, r2, _, _ = self._quotients(self.levels[1], i, d)
            err += _mag(central - c2)
            err_one += max(_mag(left - l2), _mag(right - r2))
        scale = max(_mag(central), 1e-300)
        self.worst_rel_err = max(self.worst_rel_err, err / scale if _mag(central) else 0.0)
        return Numeric(central=central, err=err, left=left, right=right, err_one=err_one, evals=self.evals)

    def _flat_check(self, i: int, d: np.ndarray) -> None:
        """φ did not move at all under ±hD: locally constant along D, or rounding its input to a lower precision.
        A step of 1e-8 (far above float64's resolution) tells them apart."""
        xs, base = self.base(self.levels[0])
        with mpmath.workdps(2 * self.levels[0] + 10):
            moved = [xs[i] + mpmath.mpf(t) * to_mp(d) for t in ("1e-8", "-1e-8")]
            vals = [self._eval([m if k == i else x for k, x in enumerate(xs)]) for m in moved]
        if any(v != base for v in vals):
            raise PrecisionIgnored(
                f"{self.what} does not change under a perturbation of 1e-{self.dps + 5} of its input but does under "
                f"1e-8: it ignores the working precision (it rounds to float64 somewhere)")

    def at(self, x0: Sequence[np.ndarray]) -> "MpmathReference":
        """The same reference at another point (for the conditioning of a fixed gradient)."""
        return MpmathReference(self.phi, x0, self.dps, False, self.what)

    def describe(self) -> str:
        v = f"; checked against dps={self.levels[1]}" if self.verify else ""
        return (f"mpmath central differences at dps={self.dps} (working precision {2 * self.dps + 10} digits, "
                f"step 1e-{self.dps + 5}{v})")

    def digits(self) -> float:
        if self.worst_rel_err <= 0:
            return float(self.dps)
        return round(min(float(self.dps), -math.log10(self.worst_rel_err)), 1)


class Float64Reference:
    """Ridders' extrapolation of float64 central (or one-sided) differences of ``phi`` (float arrays → float)."""

    kind = "float64"
    NTAB = 10
    CON = 2.0
    H0 = 2.0 ** -6  # the first step, relative to the direction (whose entries are scaled like the inputs)

    def __init__(self, phi: Callable[[list[np.ndarray]], float], x0: Sequence[np.ndarray],
                 what: str = "the function") -> None:
        self.phi, self.x0, self.what = phi, [np.asarray(v, dtype=float) for v in x0], what
        self.evals = 0
        self.worst_rel_err = 0.0
        self._f0: float | None = None

    def _eval(self, vals: list[np.ndarray]) -> float:
        """φ's value; ``phi`` may return (value, the magnitude its rounding scales with)."""
        self.evals += 1
        v = self.phi(vals)
        value, mag = (v if isinstance(v, tuple) else (v, abs(float(v))))
        self.last_mag = max(float(mag), abs(float(value)))
        return float(value)

    def start(self) -> None:
        self._f0 = self._eval(list(self.x0))
        self.mag0 = self.last_mag

    def _at(self, i: int, d: np.ndarray, t: float) -> float:
        xs = list(self.x0)
        xs[i] = self.x0[i] + t * d
        return self._eval(xs)

    def _ridders(self, i: int, d: np.ndarray, sided: int) -> tuple[float, float]:
        """(value, error estimate); ``sided`` 0 central, +1 forward, −1 backward. When the tableau's estimate is
        poor (a kink within the first steps, as in a relu network, or a fast-varying function), it starts again
        from a 16 times smaller step, up to three times, and keeps the best."""
        best = (float("nan"), float("inf"))
        h0 = self.H0
        for _ in range(4):
            v, e = self._tableau(i, d, sided, h0)
            if e < best[1]:
                best = (v, e)
            if best[1] <= 1e-10 * max(abs(best[0]), 1e-300):
                break
            h0 /= 16
        return best

    def _tableau(self, i: int, d: np.ndarray, sided: int, h: float) -> tuple[float, float]:
        f0 = self._f0 if self._f0 is not None else self._eval(list(self.x0))
        mag0 = self.mag0 if self._f0 is not None else self.last_mag
        power = 2 if sided == 0 else 1  # the error series is in h² (central) or h (one-sided)
        tab: list[list[float]] = []
        best, err = float("nan"), float("inf")
        mag = mag0

        def quotient(h: float) -> float:
            nonlocal mag
            if sided == 0:
                fp = self._at(i, d, h)
                mag = max(mag, self.last_mag)
                fm = self._at(i, d, -h)
                mag = max(mag, self.last_mag)
                return (fp - fm) / (2 * h)
            fs = self._at(i, d, sided * h)
            mag = max(mag, self.last_mag)
            return (fs - f0) / (sided * h)

        for k in range(self.NTAB):
            row = [quotient(h)]
            fac = self.CON ** power
            for j in range(1, k + 1):
                row.append((row[j - 1] * fac - tab[k - 1][j - 1]) / (fac - 1))
                fac *= self.CON ** power
                e = max(abs(row[j] - row[j - 1]), abs(row[j] - tab[k - 1][j - 1]))
                if e <= err:
                    err, best = e, row[j]
            tab.append(row)
            if k >= 1 and abs(row[k] - tab[k - 1][k - 1]) >= 2.0 * err:
                break
            h /= self.CON
        if not np.isfinite(best):
            best, err = tab[0][0], float("inf")
        floor = 4 * U * mag / h  # the rounding error of the finest quotient used
        return best, max(err, floor, 4 * U * abs(best))

    def directional(self, i: int, d: np.ndarray, one_sided: bool = False) -> Numeric:
        c, e = self._ridders(i, d, 0)
        out = Numeric(central=c, err=e)
        if one_sided:
            r, er = self._ridders(i, d, +1)
            l, el = self._ridders(i, d, -1)
            out.left, out.right, out.err_one = l, r, max(er, el)
        if c:
            self.worst_rel_err = max(self.worst_rel_err, e / abs(c))
        out.evals = self.evals
        return out

    def at(self, x0: Sequence[np.ndarray]) -> "Float64Reference":
        return Float64Reference(self.phi, x0, self.what)

    def describe(self) -> str:
        return (f"float64 central differences extrapolated by Ridders' method (steps {self.H0:g}/2^k, k < "
                f"{self.NTAB}, restarted from 16× smaller steps when its error estimate is poor)")

    def digits(self) -> float:
        if self.worst_rel_err <= 0:
            return 15.9
        return round(min(15.9, -math.log10(self.worst_rel_err)), 1)
