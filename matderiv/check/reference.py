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

from ..core.errors import CheckError

U = 2.0 ** -53  # float64 unit round-off
ZERO = 1e-4  # relative measures (digits, the reference's digits) use max(|∂φ[D]|, ZERO·M), M the scale of |φ|: D is
# scaled like the inputs, so a unit move along D changes φ by O(M); a derivative far below is "0 ± round-off"
SANITY_STEPS = ("1e-8", "2e-8")  # the mpmath reference's steps far above float64's resolution (the sanity check)


SPREAD = 1e6  # an array whose nonzero magnitudes span more than this is badly scaled: each entry gets its own step
SMALL = 1e-2  # an array whose entries are all below this in magnitude is scaled by their rms (non-zero entries)


def entry_scales(x: np.ndarray, per_entry: bool) -> np.ndarray:
    """The scale of each entry of a direction — one function for md.check's mpmath directions and md.gradcheck's
    float64 ones: max(1, max|x|) for every entry; the rms of the nonzero |xᵢ| for a small x (every |xᵢ| < SMALL,
    so that sin(x)³ at x ≈ 1e-4 or x³ at 1e-150 is probed on its own scale: the steps are relative) — or, with
    ``per_entry`` and a badly
    scaled x (nonzero magnitudes spanning more than SPREAD), |xᵢ| itself (a zero entry takes the smallest nonzero
    |xⱼ|), so that entries of 1e-8 next to 1e8 each move by a fraction of themselves. A well-scaled x keeps the
    array-wide scale: every entry weighs alike in ⟨G, D⟩, and a single wrong entry shows best."""
    a = np.abs(np.asarray(x, dtype=float))
    nz = a[a > 0]
    if not per_entry or not nz.size or float(nz.max()) <= SPREAD * float(nz.min()):
        if nz.size and float(nz.max()) < SMALL:  # a small input (1e-4 … 1e-150): moves of 1 would leave its scale
            return np.full(a.shape, float(np.sqrt(np.mean((nz / nz.max()) ** 2))) * float(nz.max()))
        return np.full(a.shape, max([1.0] + a.ravel().tolist()))
    return np.where(a > 0, a, float(nz.min()))


def random_direction(x: np.ndarray, gen: np.random.Generator, per_entry: bool = False) -> np.ndarray:
    """A standard normal direction of x's shape scaled entry by entry (:func:`entry_scales`)."""
    return gen.standard_normal(np.shape(x)) * entry_scales(x, per_entry)


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
    zero: float = 0.0  # a directional derivative below this is "zero" for relative measures (ZERO × |φ|'s scale)
    flat: bool = False  # float64: φ took one value at every step (the reference resolves nothing along D)


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


def worst_digits(errors: Sequence[tuple[float, float, float]], zero: float, cap: float) -> float:
    """min over (err, |value|, zero_k) of −log₁₀(err / max(|value|, zero_k, zero)), in [.., cap]."""
    worst = 0.0
    for err, value, zero_k in errors:
        scale = max(value, zero_k, zero)
        worst = max(worst, err / scale if scale > 0 else (0.0 if err == 0 else math.inf))
    if worst <= 0:
        return cap
    return round(min(cap, -math.log10(worst)), 1) if math.isfinite(worst) else 0.0


def dot_exact(g: np.ndarray, d: np.ndarray) -> Any:
    """Σ gᵢ dᵢ of two float64 arrays as an mpf, exact up to 10^−(mp.dps) (products of floats need 106 bits)."""
    gs, ds = np.asarray(g, dtype=float).ravel(), np.asarray(d, dtype=float).ravel()
    nz = np.nonzero((gs != 0) & (ds != 0))[0] if gs.size else []  # not gs * ds: it underflows at 1e-150 scales
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
                 verify: bool = False, what: str = "the function", names: Sequence[str] | None = None) -> None:
        self.phi, self.x0, self.dps, self.verify, self.what = phi, [np.asarray(v) for v in x0], dps, verify, what
        self.names = list(names) if names is not None else [f"input {k}" for k in range(len(self.x0))]
        self.evals = 0
        self.levels = [dps, dps + 20] if verify else [dps]
        self._base: dict[int, tuple[list[np.ndarray], Any]] = {}
        self._sane: set[tuple[int, bytes]] = set()
        self.value_digits: float | None = None  # digits to which φ(x) agrees between dps and dps + 20
        self.errors: list[tuple[float, float, float]] = []  # (error estimate, |value|, zero scale) per direction

    def _eval(self, vals: list[np.ndarray], where: str = "at the point") -> Any:
        self.evals += 1
        v = self.phi(vals)
        if isinstance(v, np.ndarray) and v.size == 1:
            v = v.reshape(-1)[0]
        if not isinstance(v, (mpmath.mpf, int)):
            raise PrecisionIgnored(f"{self.what} returned {type(v).__name__}, not an mpmath number")
        if not mpmath.isfinite(v):
            raise CheckError(f"check: the reference value of {self.what} is not finite ({v}) {where}")
        return mpmath.mpf(v)

    def base(self, level: int) -> tuple[list[np.ndarray], Any]:
        if level not in self._base:
            with mpmath.workdps(2 * level + 10):
                xs = [to_mp(v) for v in self.x0]
                self._base[level] = (xs, self._eval(xs))
        return self._base[level]

    @property
    def magnitude(self) -> float:
        """|φ(x)|, the scale of φ."""
        return _mag(self.base(self.levels[0])[1])

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

    def _quotients(self, level: int, i: int, d: np.ndarray, h: Any = None) -> tuple[Any, Any, Any, Any, Any]:
        xs, base = self.base(level)
        with mpmath.workdps(2 * level + 10):
            h = mpmath.mpf(10) ** -(level + 5) if h is None else mpmath.mpf(h)
            dm = to_mp(d)
            plus, minus = list(xs), list(xs)
            plus[i], minus[i] = xs[i] + h * dm, xs[i] - h * dm
            where = f"at a point moved by {mpmath.nstr(h, 3)} along a direction of {self.names[i]!r}"
            fp, fm = self._eval(plus, where), self._eval(minus, where)
            central = (fp - fm) / (2 * h)
            right, left = (fp - base) / h, (base - fm) / h
            noise = mpmath.mpf(10) ** -(2 * level + 9) * max(abs(fp), abs(fm), abs(base)) / h
            return central, left, right, noise, (fp, fm, base)

    def directional(self, i: int, d: np.ndarray, one_sided: bool = True, sanity: bool = True) -> Numeric:
        """∂φ[D] of input ``i``; with verify and ``sanity`` (a direction of the check, not a bisection block) the
        step check of :meth:`_sanity` runs first."""
        central, left, right, noise, (fp, fm, _) = self._quotients(self.levels[0], i, d)
        if self.verify and sanity:
            self._sanity(i, d, central)
        gap = _mag(right - left)
        trunc = gap * 10.0 ** -(self.dps + 5)  # an O(h²) truncation proxy: h·(right − left) = h²·φ''
        # at a smooth point the one-sided values differ by h·φ'' (h = 10^-(dps+5)); a kink makes them differ by
        # O(1): half the digits tell the two apart with room on both sides
        err_one = _mag(noise) + 10.0 ** -(self.dps / 2) * max(_mag(left), _mag(right))
        if gap > 10 * err_one:
            # a kink, or a stationary point where the one-sided values are ±h·φ'' themselves: a kink's jump does
            # not depend on the step, curvature's grows with it; and the truncation, c(10h) − c(h) ≈ 99·c₃h²
            c10, l10, r10, _, _ = self._quotients(self.levels[0], i, d, mpmath.mpf(10) ** -(self.dps + 4))
            if _mag(r10 - l10) > 5 * gap:
                err_one += gap
            trunc = _mag(c10 - central) / 99
        err = _mag(noise) + trunc
        if self.verify:
            c2, l2, r2, _, _ = self._quotients(self.levels[1], i, d)
            err += _mag(central - c2)
            err_one += max(_mag(left - l2), _mag(right - r2))
        zero = ZERO * max(self.magnitude, _mag(fp), _mag(fm))
        self.errors.append((err, _mag(central), zero))
        return Numeric(central=central, err=err, left=left, right=right, err_one=err_one, evals=self.evals,
                       zero=zero)

    def _sanity(self, i: int, d: np.ndarray, tiny: Any) -> None:
        """Does φ follow the working precision along D? The central quotients at the steps 1e-8 and 2e-8 (far above
        float64's resolution) extrapolated to h → 0 must agree with the one at 10^−(dps+5): a function that rounds
        part of its work to float64 (float(), np.float64) sees only the other part's change at the tiny step. Their
        own difference (h² curvature, a kink within 1e-8) bounds what counts as agreement."""
        key = (i, np.asarray(d, dtype=float).tobytes())
        if key in self._sane or not np.any(np.asarray(d, dtype=float) != 0):
            return
        a, b = (self._quotients(self.levels[0], i, d, h)[0] for h in SANITY_STEPS)
        with mpmath.workdps(2 * self.levels[0] + 10):
            extrapolated = a + (a - b) / 3  # the h² terms cancel
            spread = abs(a - b)  # 3ch² of a smooth φ; for a φ that rounds to float64 also that rounding / 1e-8
            gap = abs(extrapolated - tiny)
            floor = mpmath.mpf(10) ** -(self.dps // 2) * max(abs(tiny), abs(a), ZERO * self.magnitude)
        if gap > 10 * spread and gap > floor:
            raise PrecisionIgnored(
                f"precision ignored: along a direction of {self.names[i]!r} the change of {self.what} at a step of "
                f"1e-{self.dps + 5} gives {mpmath.nstr(tiny, 8)}, at steps of 1e-8 {mpmath.nstr(extrapolated, 8)}: it "
                f"ignores the working precision in part of its work (float(), np.float64 inside)")
        self._sane.add(key)

    def at(self, x0: Sequence[np.ndarray]) -> "MpmathReference":
        """The same reference at another point (for the conditioning of a fixed gradient)."""
        return MpmathReference(self.phi, x0, self.dps, False, self.what, self.names)

    def describe(self) -> str:
        v = f"; checked against dps={self.levels[1]} and against steps of 1e-8" if self.verify else ""
        return (f"mpmath central differences at dps={self.dps} (working precision {2 * self.dps + 10} digits, "
                f"step 1e-{self.dps + 5}{v})")

    def digits(self) -> float:
        """The digits the reference is good for: the worst over the directions of −log₁₀(err / max(|∂φ[D]|, zero)),
        zero = ZERO × the scale of φ (known best at the end: the round-off measured along every direction)."""
        return worst_digits(self.errors, ZERO * self.magnitude, float(self.dps))


class Float64Reference:
    """Ridders' extrapolation of float64 central (or one-sided) differences of ``phi`` (float arrays → float)."""

    kind = "float64"
    NTAB = 10
    CON = 2.0
    H0 = 2.0 ** -6  # the first step, relative to the direction (whose entries are scaled like the inputs)
    PROBES = (2.0 ** -40, 2.0 ** -32, 2.0 ** -24, 2.0 ** -22, 2.0 ** -20)  # steps that measure φ's resolution

    def __init__(self, phi: Callable[[list[np.ndarray]], float], x0: Sequence[np.ndarray],
                 what: str = "the function", names: Sequence[str] | None = None) -> None:
        self.phi, self.x0, self.what = phi, [np.asarray(v, dtype=float) for v in x0], what
        self.names = list(names) if names is not None else [f"input {k}" for k in range(len(self.x0))]
        self.evals = 0
        self.errors: list[tuple[float, float, float]] = []  # (error estimate, |value|, zero scale) per direction
        self.resolution = 0.0  # the largest round-off of φ seen (absolute; see _resolution)
        self._f0: float | None = None
        self.mag0 = 0.0
        self.seen = 0.0  # the largest |φ| (or rounding magnitude) evaluated, steps of up to 2^-6 along D included

    def _eval(self, vals: list[np.ndarray]) -> float:
        """φ's value; ``phi`` may return (value, the magnitude its rounding scales with)."""
        self.evals += 1
        v = self.phi(vals)
        value, mag = (v if isinstance(v, tuple) else (v, abs(float(v))))
        self.last_mag = max(float(mag), abs(float(value)))
        if math.isfinite(self.last_mag):
            self.seen = max(self.seen, self.last_mag)
        return float(value)

    def start(self) -> None:
        self._f0 = self._eval(list(self.x0))
        self.mag0 = self.last_mag
        if not math.isfinite(self._f0):
            raise CheckError(f"check: {self.what} is not finite ({self._f0}) at the point; choose a point in its domain")

    @property
    def magnitude(self) -> float:
        """The scale of φ: |φ(x)|, the magnitude its rounding scales with, and the largest |φ| seen within the steps
        (where φ(x) = 0). Not its measured round-off over u: a φ computed in float32 has that much round-off
        without being that large."""
        return max(abs(self._f0 or 0.0), self.mag0, self.seen)

    def _at(self, i: int, d: np.ndarray, t: float) -> float:
        xs = list(self.x0)
        xs[i] = self.x0[i] + t * d
        return self._eval(xs)

    def _ridders(self, i: int, d: np.ndarray, sided: int) -> tuple[float, float, float, bool]:
        """(value, error estimate, the finest step behind the value, flat); ``sided`` 0 central, +1 forward, −1
        backward. When the tableau's estimate is poor (a kink within the first steps, as in a relu network, or a
        fast-varying function), it starts again from a 16 times smaller step, up to three times, and keeps the
        best. ``flat``: φ took the value φ(x) at every step."""
        best = (float("nan"), float("inf"), self.H0, True)
        h0 = self.H0
        for _ in range(4):
            v, e, h, flat = self._tableau(i, d, sided, h0)
            if e < best[1] or not math.isfinite(best[0]):
                best = (v, e, h, flat and best[3])
            if best[1] <= 1e-10 * max(abs(best[0]), 1e-300):
                break
            h0 /= 16
        if not math.isfinite(best[0]):
            raise CheckError(f"check: the float64 reference is not finite along a direction of {self.names[i]!r}: "
                             f"{self.what} is not finite at x ± t·D for every step t ≤ {self.H0:g} (a pole or the "
                             f"edge of its domain next to the point)")
        return best

    def _tableau(self, i: int, d: np.ndarray, sided: int, h: float) -> tuple[float, float, float, bool]:
        f0 = self._f0 if self._f0 is not None else self._eval(list(self.x0))
        mag0 = self.mag0 if self._f0 is not None else self.last_mag
        power = 2 if sided == 0 else 1  # the error series is in h² (central) or h (one-sided)
        tab: list[list[float]] = []
        best, err, h_best = float("nan"), float("inf"), h
        mag = mag0
        flat = True

        def quotient(h: float) -> float:
            nonlocal mag, flat
            if sided == 0:
                fp = self._at(i, d, h)
                mag = max(mag, self.last_mag)
                fm = self._at(i, d, -h)
                mag = max(mag, self.last_mag)
                flat = flat and fp == fm == f0
                return (fp - fm) / (2 * h)
            fs = self._at(i, d, sided * h)
            mag = max(mag, self.last_mag)
            flat = flat and fs == f0
            return (fs - f0) / (sided * h)

        for _ in range(self.NTAB):
            row = [quotient(h)]
            if not math.isfinite(row[0]):  # beyond the domain at this step: a smaller one
                if tab:
                    break
                h /= self.CON
                continue
            fac = self.CON ** power
            for j in range(1, len(tab) + 1):
                row.append((row[j - 1] * fac - tab[-1][j - 1]) / (fac - 1))
                fac *= self.CON ** power
                e = max(abs(row[j] - row[j - 1]), abs(row[j] - tab[-1][j - 1]))
                if e <= err:
                    err, best, h_best = e, row[j], h
            tab.append(row)
            if len(tab) >= 2 and abs(row[-1] - tab[-2][-1]) >= 2.0 * err:
                break
            h /= self.CON
        if not tab:
            return float("nan"), float("inf"), h, False
        if not np.isfinite(best):
            best, err, h_best = tab[0][0], float("inf"), h
        # the rounding error of the finest quotient behind the value: φ's round-off (the larger of u·|terms| and
        # the resolution measured so far) over the step
        floor = 4 * max(U * mag, self.resolution) / h_best
        return best, max(err, floor, 4 * U * abs(best)), h_best, flat

    def _resolution(self, i: int, d: np.ndarray, q: float) -> float:
        """φ's round-off along D, measured: |φ(x + tD) − φ(x − tD) − 2tq| / 2 for steps t from 2⁻⁴⁰ to 2⁻²⁰, q the
        extrapolated derivative. The true change is 2tq + O(t³), so what remains is the rounding of φ — also where
        it is systematic, as 1 − σ(t) near σ = 1, whose steps of 1.1e-16 a move of 2⁻⁴⁰ does not cross (then φ
        does not move at all and the residual is the swallowed change 2t|q|)."""
        out = 0.0
        for t in self.PROBES:
            fp, fm = self._at(i, d, t), self._at(i, d, -t)
            if math.isfinite(fp) and math.isfinite(fm):
                out = max(out, abs(fp - fm - 2 * t * q) / 2)
        return out

    def directional(self, i: int, d: np.ndarray, one_sided: bool = False, sanity: bool = True) -> Numeric:
        c, e, h, flat = self._ridders(i, d, 0)
        res = self._resolution(i, d, c) if sanity else 0.0  # bisection blocks use the resolution measured so far
        if res > self.resolution:
            self.resolution = res
            e = max(e, 4 * res / h)
        out = Numeric(central=c, err=e, flat=flat, zero=ZERO * self.magnitude)
        straddled = self._straddled(i, d, h, c, out.zero) if sanity else None
        if straddled is not None:  # a kink within the finest step: Ridders' value is the straddled average
            out.left, out.right, out.err_one = straddled
        elif one_sided:
            r, er, _, _ = self._ridders(i, d, +1)
            l, el, _, _ = self._ridders(i, d, -1)
            out.left, out.right, out.err_one = l, r, max(er, el)
        # left and right disagreeing at the finest step: the reference vouches for no more than 6 digits. Bisection
        # blocks (sanity=False) do not count: the digits are those of the check's own directions and entries
        if sanity:
            self.errors.append((e if straddled is None else max(e, 1e-6 * abs(c)), abs(c), out.zero))
        out.evals = self.evals
        return out

    def _straddled(self, i: int, d: np.ndarray, h: float, c: float, zero: float
                   ) -> tuple[float, float, float] | None:
        """(left, right, their error) when the one-sided quotients at the finest step h behind Ridders' value, and at
        h/2, differ by a gap that does not shrink with the step: a kink within h of the point, which the central
        tableau straddles (its value is then the average of the two slopes, its error estimate blind to it). At a
        smooth point the gap is h·|φ''| and halves with the step; round-off over the step is excluded."""
        f0 = self._f0 if self._f0 is not None else self._eval(list(self.x0))
        sides = []
        for t in (h, h / 2):
            fp, fm = self._at(i, d, t), self._at(i, d, -t)
            if not (math.isfinite(fp) and math.isfinite(fm)):
                return None
            sides.append(((f0 - fm) / t, (fp - f0) / t))
        (l1, r1), (l2, r2) = sides
        g1, g2 = abs(r1 - l1), abs(r2 - l2)
        rounding = 4 * max(U * self.magnitude, self.resolution) / (h / 2)
        if g2 > 0.6 * g1 and g2 > 100 * rounding + 1e-9 * max(abs(c), zero):
            return l2, r2, max(abs(l1 - l2), abs(r1 - r2)) + rounding
        return None

    def at(self, x0: Sequence[np.ndarray]) -> "Float64Reference":
        return Float64Reference(self.phi, x0, self.what, self.names)

    def describe(self) -> str:
        return (f"float64 central differences extrapolated by Ridders' method (steps {self.H0:g}/2^k, k < "
                f"{self.NTAB}, restarted from 16× smaller steps when its error estimate is poor; the round-off of "
                f"{self.what} measured along each direction)")

    def digits(self) -> float:
        """As :meth:`MpmathReference.digits`, at most 15.9."""
        return worst_digits(self.errors, ZERO * self.magnitude, 15.9)
