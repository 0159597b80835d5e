"""Comparing a user's gradient values with a numerical reference: tolerances, kinks, located entries, the report.

For a variable W with analytic gradient G (float64, the user's) and a direction D, the analytic directional
derivative ⟨G, D⟩ is summed exactly (mpmath) and compared with the reference's ∂φ[D]. The tolerance is

    tol = C_NOISE · noise(D) + C_FLOOR · max(u, ρ) · max(Σ|Gᵢⱼ Dᵢⱼ|, |∂φ[D]|) + C_REF · err_ref(D)

* noise(D): the float64 round-off of the user's computation, measured, not assumed: second differences of the
  user's gradient under input moves of ±2⁻⁴⁰, which cancel the true change and re-draw every rounding error
  (:func:`matderiv.check.user.measure_noise`; it grows with the size and the conditioning of the problem);
* u · Σ|Gᵢⱼ Dᵢⱼ|: the rounding of each stored entry, for a computation so exact that the perturbation does not
  move it; ρ > u where φ itself loses digits in float64 (its relative float64 error, as 1 − σ(t) for t ≥ 25);
* err_ref: the reference's own error estimate (tiny for mpmath; Ridders' estimate for float64, never below φ's
  measured round-off over the step).

Relative errors and digits are taken against max(|∂φ[D]|, 10⁻⁴·|φ|): a zero gradient is 0 ± round-off, not 0
digits. A report is inconclusive (falsy) when the function is not deterministic, when the reference is good to
fewer than 6 digits, or when φ did not move in float64 along a direction whose analytic derivative is not 0.

Each direction is classified from the one-sided values: **smooth** (they agree; the check is the central
value), **kink** (they differ beyond the tolerance, as relu or abs at 0, or several relu units at 0 along one line,
where no single subgradient lies between them — reported, a failure only when ``strict``) or **mismatch**. A kink
never vouches for the other entries: a variable of at most KINK_ENTRIES entries is then compared entry by entry, a
larger one has its kink entries found by bisection and the kinked directions compared again with them zeroed
(smooth and agreeing, or the report is inconclusive). When a direction mismatches, the wrong entries are located by bisection: the
direction is split into halves over the entries of W, the half whose discrepancy exceeds its tolerance is split
again, until single entries remain (best first, within a budget of reference evaluations).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

from ..core.errors import ArgumentError
from .reference import Numeric, U, dot_exact, entry_scales


def check_options(who: str, dps: object, directions: object, rng: object) -> None:
    """The options every check shares: dps an int ≥ 15, directions a positive int, rng a non-negative int or None."""
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < 15:
        raise ArgumentError(f"{who}: dps must be an int ≥ 15, got {dps!r}")
    if isinstance(directions, bool) or not isinstance(directions, int) or directions < 1:
        raise ArgumentError(f"{who}: directions must be a positive int, got {directions!r}")
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0):
        raise ArgumentError(f"{who}: rng must be a non-negative int seed or None, got {rng!r}")

C_NOISE = 5.0
C_FLOOR = 16.0
C_REF = 10.0
MAX_LOCATED = 5
LOCATE_BUDGET = 400  # reference evaluations bisection may spend per variable
MAX_ENTRIES = 2000  # mode="entries" refuses variables with more entries (its cost is two evaluations per entry)
MIN_REFERENCE_DIGITS = 6.0  # a reference good to fewer digits makes the report inconclusive


def kink_note(kinks: int, strict: bool) -> str | None:
    """The report's note on comparisons at a kink (None when there are none)."""
    if not kinks:
        return None
    return (f"{kinks} comparison(s) at a kink (the one-sided derivatives differ: no single derivative to compare; "
            f"the other entries are checked apart from the kink entries)"
            f"{'; strict: counted as failures' if strict else '; not counted as failures'}")


def _f(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):  # pragma: no cover
        return float("nan")


def digits_of(diff: float, scale: float, cap: float) -> float:
    """−log₁₀(|diff| / |scale|), in [0, cap]."""
    if diff == 0:
        return cap
    if not np.isfinite(diff):
        return 0.0
    if scale == 0:
        return 0.0 if diff else cap
    return round(min(cap, max(0.0, -math.log10(abs(diff) / abs(scale)))), 1)


def _g(v: float, places: int = 6) -> str:
    return f"{v:.{places}g}" if v == 0 or 1e-4 <= abs(v) < 1e6 else f"{v:.{places - 3}e}"


def _places(rel: float) -> int:
    """Enough significant digits to show a relative difference ``rel`` (6 to 17)."""
    if not rel or not np.isfinite(rel) or rel >= 1e-4:
        return 6
    return int(min(17, math.ceil(-math.log10(rel)) + 2))


@dataclass
class Comparison:
    """One direction (or, in entries mode, one entry): the analytic and numerical values and the verdict."""

    label: str
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float
    tol: float
    digits: float
    kind: str  # "smooth", "kink", "mismatch", "unresolved" (φ did not move in float64 along the direction) or
    # "unsettled" (a kinked direction still crosses a kink with the kink entries found zeroed)
    left: float | None = None
    right: float | None = None

    @property
    def ok(self) -> bool:
        return self.kind not in ("mismatch", "unresolved", "unsettled")

    def line(self) -> str:
        p = _places(self.rel_err)
        side = "" if self.left is None or self.kind == "smooth" or _g(self.left) == _g(self.right) else \
            f" (one-sided {_g(self.left)} | {_g(self.right)})"  # type: ignore[arg-type]
        return (f"{self.label}: analytic {_g(self.analytic, p)}, numeric {_g(self.numeric, p)}{side}, "
                f"|Δ| {self.abs_err:.2e} (rel {self.rel_err:.2e}, tolerance {self.tol:.2e}), "
                f"{self.digits:g} digits — {self.kind}")


@dataclass
class Entry:
    """One located entry of a gradient: where, what the user's gradient says and what the reference says."""

    name: str
    index: tuple[int, ...]
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float
    digits: float

    @property
    def label(self) -> str:
        return f"{self.name}[{', '.join(map(str, self.index))}]" if self.index else self.name

    def line(self) -> str:
        p = _places(self.rel_err)
        return (f"{self.label}: analytic {_g(self.analytic, p)}, numeric {_g(self.numeric, p)}, "
                f"|Δ| {self.abs_err:.2e}, rel {self.rel_err:.2e}, {self.digits:g} digits")


@dataclass
class VariableResult:
    name: str
    shape: tuple[int, ...]
    comparisons: list[Comparison]
    located: list[Entry] = field(default_factory=list)
    strict: bool = False
    located_evals: int = 0
    kink_entries: list[str] = field(default_factory=list)  # the kink entries found (a variable of > 400 entries)
    by_entries: bool = False  # compared entry by entry (mode="entries", or a kink settled so)

    @property
    def unsettled(self) -> int:
        return sum(c.kind == "unsettled" for c in self.comparisons)

    @property
    def kinks(self) -> int:
        return sum(c.kind == "kink" for c in self.comparisons)

    @property
    def unresolved(self) -> int:
        return sum(c.kind == "unresolved" for c in self.comparisons)

    @property
    def ok(self) -> bool:
        return all(c.ok and not (self.strict and c.kind == "kink") for c in self.comparisons)

    @property
    def worst(self) -> Comparison:
        return max(self.comparisons, key=lambda c: (not c.ok, c.abs_err / c.tol if c.tol else math.inf))

    @property
    def worst_entry(self) -> Entry | None:
        return self.located[0] if self.located else None

    @property
    def digits(self) -> float:
        """The fewest digits of agreement over the smooth comparisons (a kink has no single derivative)."""
        smooth = [c.digits for c in self.comparisons if c.kind not in ("kink", "unsettled")]
        return min(smooth) if smooth else 0.0


@dataclass
class GradReport:
    """The check of gradient values against a numerical reference; ``bool(report)`` is ``report.ok``.

    ``variables`` holds one :class:`VariableResult` per checked input (its ``comparisons``, ``worst`` one,
    ``located`` wrong entries, ``kinks``); ``reference`` says which reference was used and ``reference_digits``
    how many digits it is good for; ``notes`` say what else was noticed (a fallback, kinks, a float32 gradient).
    ``inconclusive`` lists why no verdict could be given (a function that is not deterministic, a reference good to
    fewer than 6 digits, a function flat in float64): then the report is falsy. ``rng`` and ``sizes`` (each input's
    shape) reproduce the check."""

    title: str
    variables: list[VariableResult]
    reference: str
    reference_kind: str
    reference_digits: float
    mode: str
    tolerance: str
    strict: bool = False
    notes: list[str] = field(default_factory=list)
    evaluations: int = 0
    inconclusive: list[str] = field(default_factory=list)
    rng: int | None = None
    sizes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.variables and self.reference_digits < MIN_REFERENCE_DIGITS:
            self.inconclusive.append(f"the reference is good to only {max(self.reference_digits, 0.0):g} digits (< "
                                     f"{MIN_REFERENCE_DIGITS:g}): it cannot vouch for the gradient")
        flat = sum(v.unresolved for v in self.variables)
        if flat:
            self.inconclusive.append(f"along {flat} direction(s) the function's float64 value did not change at any "
                                     f"step while the analytic derivative is not 0: float64 differences cannot "
                                     f"resolve it (give a function that computes with mpmath numbers)")
        at_kinks = [v.name for v in self.variables if v.comparisons and all(c.kind == "kink" for c in v.comparisons)]
        if at_kinks and not self.strict:
            self.inconclusive.append(f"every comparison of {', '.join(at_kinks)} lies at a kink, where any value can be "
                                     f"a valid one-sided mix (several kinks on one line): nothing vouches for the "
                                     f"gradient there (check at a point away from the kinks)")
        unsettled = sum(v.unsettled for v in self.variables)
        if unsettled:
            self.inconclusive.append(f"{unsettled} direction(s) through a kink still cross one with the kink entries "
                                     f"found zeroed: the other entries could not be checked apart from the kinks "
                                     f"(use mode='entries', or a point away from the kinks)")

    @property
    def ok(self) -> bool:
        return not self.inconclusive and all(v.ok for v in self.variables)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def kinks(self) -> int:
        return sum(v.kinks for v in self.variables)

    def __getitem__(self, name: str) -> VariableResult:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)

    def __str__(self) -> str:
        lines = [f"INCONCLUSIVE: {self.title} — {reason}" for reason in self.inconclusive]
        for v in self.variables:
            unit = "entries" if v.by_entries else "directions"
            n = len(v.comparisons)
            bad = [c for c in v.comparisons if not c.ok or (self.strict and c.kind == "kink")]
            kinks = f", {v.kinks} at a kink" if v.kinks else ""
            if not bad:
                shown = min(v.digits, self.reference_digits)  # never more than the reference can vouch for
                agree = f"agree to ≥ {max(shown, 0.0):g} digits" if v.kinks < n else "are at a kink"
                lines.append(f"{'correct' if not self.inconclusive else 'no disagreement'}: {self.title} for "
                             f"{v.name} — {n} {unit} {agree}{kinks if v.kinks < n else ''} (reference: "
                             f"{self.reference_kind}, good to {max(self.reference_digits, 0.0):g} digits)")
                if v.kink_entries:
                    shown = ", ".join(v.kink_entries[:8]) + (" …" if len(v.kink_entries) > 8 else "")
                    lines.append(f"  kink entries of {v.name} (found by bisection; the kinked directions were "
                                 f"compared again without them): {shown}")
            else:
                lines.append(f"FAILED: {self.title} for {v.name} — {len(bad)} of {n} {unit} disagree{kinks}")
                for c in bad[:3]:
                    lines.append(f"  {c.line()}")
                if len(bad) > 3:
                    lines.append(f"  … and {len(bad) - 3} more")
                if v.located:
                    lines.append(f"  worst entry found (bisection over the entries of {v.name}, "
                                 f"{v.located_evals} evaluations): {v.located[0].line()}")
                    for e in v.located[1:]:
                        lines.append(f"  also wrong: {e.line()}")
        lines.append(f"  reference: {self.reference}; good to {max(self.reference_digits, 0.0):g} digits")
        lines.append(f"  tolerance: {self.tolerance}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.rng is not None or self.sizes:
            sizes = ", ".join(f"{k} {'×'.join(map(str, v)) or 'scalar'}" for k, v in self.sizes.items())
            lines.append(f"  reproduce: rng={self.rng}" + (f"; sizes: {sizes}" if sizes else ""))
        return "\n".join(lines)


# ---- the comparison ----------------------------------------------------------------------------------------------
Noise = Callable[[int, np.ndarray], float]


def tolerance(g: np.ndarray, d: np.ndarray, noise: float, num: Numeric, rho: float = U) -> float:
    """C_NOISE·noise + C_FLOOR·max(u, ρ)·max(Σ|G∘D|, |∂φ[D]|) + C_REF·err: ρ is the relative float64 round-off of φ
    itself (where φ loses digits to cancellation, as 1 − σ(t) for large t, a gradient computed the same way loses as
    many, down to a gradient rounded to 0: hence the numeric value in the scale)."""
    floor = max(U, rho) * max(float(np.sum(np.abs(np.asarray(g, dtype=float) * d))), abs(_f(num.central)))
    return C_NOISE * noise + C_FLOOR * floor + C_REF * num.err


def classify(analytic: Any, num: Numeric, tol: float) -> str:
    """smooth / kink / mismatch (see the module docstring); unresolved when φ did not move at all in float64 and
    the analytic value is not 0 within the tolerance."""
    diff = _f(analytic - num.central) if not isinstance(analytic, float) else analytic - _f(num.central)
    if num.flat and abs(diff) > tol:
        return "unresolved"
    if not sides_differ(num, tol):
        return "smooth" if abs(diff) <= tol else "mismatch"
    # a kink whatever the analytic value: where several kinks lie on the line (relu units at 0 along a zero input
    # row) no single subgradient lies between the one-sided values. Errors elsewhere are settled by run().
    return "kink"


def sides_differ(num: Numeric, tol: float) -> bool:
    """The one-sided derivatives (when computed) differ beyond their error and the tolerance: a kink along D."""
    if num.left is None:
        return False
    return abs(_f(num.right - num.left)) > C_REF * (num.err_one or 0.0) + tol


def compare_direction(label: str, g: np.ndarray, d: np.ndarray, num: Numeric, noise: float, cap: float,
                      scale: float = 1.0, rho: float = U) -> Comparison:
    """``scale`` divides the reported values (entries mode: the unit direction was scaled by it). Relative errors
    and digits are taken against max(|numeric|, num.zero): a derivative that is 0 ± round-off is not 0 digits."""
    a = dot_exact(g, d)
    unit = _unit(a, num.central)
    if unit is not None:  # values below float64's range (inputs of 1e-150): compared in units of their size
        a = a / unit
        num = replace(num, central=num.central / unit, left=None if num.left is None else num.left / unit,
                      right=None if num.right is None else num.right / unit)
        label = f"{label} (in units of {mpmath.nstr(unit, 1)})"
        noise = 0.0  # the gradient's own round-off is below the floor u·|∂φ[D]| at this scale
    tol = tolerance(g, d, noise, num, rho)
    kind = classify(a, num, tol)
    diff = abs(_f(a - num.central))
    q = _f(num.central)
    ref = max(abs(q), num.zero)
    left = None if num.left is None else _f(num.left) / scale
    right = None if num.right is None else _f(num.right) / scale
    return Comparison(label=label, analytic=_f(a) / scale, numeric=q / scale, abs_err=diff / scale,
                      rel_err=diff / ref if ref else (0.0 if diff == 0 else math.inf), tol=tol / scale,
                      digits=digits_of(diff, ref, cap) if ref else (cap if diff <= tol else 0.0), kind=kind,
                      left=left, right=right)


def _unit(a: Any, central: Any) -> Any:
    """A power of ten to divide the values by when they are mpf numbers below float64's normal range, else None."""
    if not isinstance(a, mpmath.mpf) or not isinstance(central, mpmath.mpf):
        return None
    top = max(abs(a), abs(central))
    if top == 0 or top > mpmath.mpf("1e-250"):
        return None
    return mpmath.mpf(10) ** int(mpmath.floor(mpmath.log10(top)))


def entry_index(shape: tuple[int, ...], k: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def locate(name: str, w: int, g: np.ndarray, d: np.ndarray, reference: Any, noise: Noise, cap: float,
           rho: float = U) -> tuple[list[Entry], int]:
    """The wrong entries of g along the failing direction d, best first, by bisection over the entries."""
    shape = np.shape(g)
    gflat, dflat = np.asarray(g, dtype=float).ravel(), np.asarray(d, dtype=float).ravel()
    start = reference.evals
    support = [k for k in range(dflat.size) if dflat[k] != 0]

    def evaluate(block: list[int]) -> tuple[float, float, Numeric]:
        db = np.zeros(dflat.size)
        db[block] = dflat[block]
        db = db.reshape(np.shape(d))
        num = reference.directional(w, db, one_sided=False, sanity=False)
        a = dot_exact(gflat.reshape(np.shape(d)), db)
        unit = _unit(a, num.central)
        if unit is not None:  # below float64's range: in units of the values' size (as compare_direction)
            scaled = replace(num, central=num.central / unit)
            return abs(_f((a - num.central) / unit)), tolerance(gflat.reshape(np.shape(d)), db, 0.0, scaled, rho), num
        tol = tolerance(gflat.reshape(np.shape(d)), db, noise(w, db), num, rho)
        return abs(_f(a - num.central)), tol, num

    found: list[Entry] = []
    heap: list[tuple[float, int, list[int], Numeric | None]] = [(-math.inf, 0, support, None)]
    counter = 1
    while heap and len(found) < MAX_LOCATED and reference.evals - start < LOCATE_BUDGET:
        _, _, block, num = heapq.heappop(heap)
        if len(block) == 1:
            k = block[0]
            if num is None:
                _, _, num = evaluate(block)
            numeric = _f(num.central / dflat[k]) if isinstance(num.central, mpmath.mpf) else _f(num.central) / dflat[k]
            an = float(gflat[k])
            diff = abs(an - numeric)
            found.append(Entry(name=name, index=entry_index(shape, k), analytic=an, numeric=numeric,
                               abs_err=diff, rel_err=diff / abs(numeric) if numeric else math.inf,
                               digits=digits_of(diff, numeric, cap)))
            continue
        halves = [block[:len(block) // 2], block[len(block) // 2:]]
        scored = [(h, *evaluate(h)) for h in halves]
        over = [(h, diff, tol, num) for h, diff, tol, num in scored if diff > tol]
        if not over:  # the parent's excess is spread over both halves: follow the larger share
            over = [max(scored, key=lambda s: s[1] / s[2] if s[2] else math.inf)]
        for h, diff, tol, num in over:
            heapq.heappush(heap, (-diff, counter, h, num))
            counter += 1
    found.sort(key=lambda e: -e.abs_err)
    return found, reference.evals - start


def _zeroed(d: np.ndarray, entries: Sequence[int]) -> np.ndarray:
    dz = np.array(d, dtype=float)
    dz.flat[list(entries)] = 0.0
    return dz


def label_of(name: str, shape: tuple[int, ...], k: int) -> str:
    idx = entry_index(shape, k)
    return f"{name}[{', '.join(map(str, idx))}]" if idx else name


KINK_ENTRIES = 400  # a variable with a kink along a random direction and at most this many entries is checked entrywise
KINK_BUDGET = 6000  # reference evaluations the search for kink entries may spend per variable (larger variables)


def kink_entries(w: int, g: np.ndarray, d: np.ndarray, reference: Any, noise: Noise, rho: float,
                 budget: int) -> list[int]:
    """The entries k of D (flat indices) along whose part the one-sided derivatives differ, by bisection: a block of
    D's entries whose one-sided values agree holds no kink (up to kinks whose jumps cancel, which the re-check of
    :func:`settle_kinks` sees), a block whose values differ is halved until single entries remain."""
    dflat = np.asarray(d, dtype=float).ravel()
    start = reference.evals
    support = [k for k in range(dflat.size) if dflat[k] != 0]
    stack = [support[len(support) // 2:], support[:len(support) // 2]]  # D itself is known to be a kink
    found: list[int] = []
    while stack and reference.evals - start < budget:
        block = stack.pop()
        if not block:
            continue
        db = np.zeros(dflat.size)
        db[block] = dflat[block]
        db = db.reshape(np.shape(d))
        num = reference.directional(w, db, one_sided=True, sanity=False)
        if not sides_differ(num, tolerance(g, db, noise(w, db), num, rho)):
            continue
        if len(block) == 1:
            found.append(block[0])
        else:
            stack += [block[len(block) // 2:], block[:len(block) // 2]]
    return found


def settle_kinks(name: str, w: int, g: np.ndarray, kinked: list[tuple[int, np.ndarray]], reference: Any,
                 noise: Noise, cap: float, rho: float) -> tuple[list[tuple[Comparison, np.ndarray]], list[int]]:
    """A direction through a kink moves every entry, and an error elsewhere smaller than the jump would hide in it:
    the kink entries are found (:func:`kink_entries`) and each kinked direction is compared again with them zeroed,
    where it must be smooth and agree. A re-check that still crosses a kink (kinks not found within the budget)
    is "unsettled": the report is inconclusive, never passed on the strength of the kink."""
    kinks: set[int] = set()
    start = reference.evals
    out: list[tuple[Comparison, np.ndarray]] = []
    flips = np.random.default_rng(len(kinked))
    for j, d in kinked:
        c = None
        for attempt in range(4):
            dz = _zeroed(d, sorted(kinks))
            if not np.any(dz):
                c = None
                break
            num = reference.directional(w, dz, one_sided=True)
            what = f"without the {len(kinks)} kink entries" if kinks else "with random signs flipped" if attempt \
                else "again"
            c = compare_direction(f"direction {j + 1} {what}", g, dz, num,
                                  noise(w, dz), cap, 1.0, rho)
            left = KINK_BUDGET - (reference.evals - start)
            if c.kind != "kink" or left <= 0:
                break
            more = set(kink_entries(w, g, dz, reference, noise, rho, left)) - kinks
            if not more:
                # no entry's own line has a kink: the kink lies on D's line near the point, not at it (a relu unit
                # crossing 0 within the steps, as in a network at a generic input); D with random signs flipped
                # moves its pre-activations elsewhere
                d = np.asarray(d, dtype=float) * flips.choice([-1.0, 1.0], np.shape(d))
                continue
            kinks |= more
        if c is not None:
            if c.kind == "kink":
                c.kind = "unsettled"
            out.append((c, dz))
    return out, sorted(kinks)


def run(names: Sequence[str], wrt: Sequence[int], x0: Sequence[np.ndarray], grads: Sequence[np.ndarray],
        reference: Any, noise: Noise, directions: dict[int, list[np.ndarray]], mode: str, strict: bool,
        cap: float, rho: float = U, per_entry: bool = False, who: str = "check") -> list[VariableResult]:
    """Compare every variable's gradient with the reference, along ``directions`` or entry by entry (each entry's
    unit direction scaled as :func:`~matderiv.check.reference.entry_scales` says, ``per_entry`` or not)."""
    if mode == "entries":
        for w in wrt:
            n = int(np.prod(np.shape(x0[w])))
            if n > MAX_ENTRIES:
                raise ArgumentError(f"{who}: mode='entries' compares the {n} entries of {names[w]!r} one by one (at "
                                    f"most {MAX_ENTRIES}); use mode='directions' (the default: random directions, "
                                    f"wrong entries located by bisection), with more directions= if you like")
    out = []
    for w, g in zip(wrt, grads):
        g = np.asarray(g, dtype=float)
        shape = np.shape(x0[w])
        comps: list[Comparison] = []
        failing: list[tuple[float, np.ndarray]] = []
        one_sided = reference.kind == "mpmath" or strict

        def compare(label: str, d: np.ndarray, scale: float = 1.0) -> Comparison:
            num = reference.directional(w, d, one_sided=one_sided)
            c = compare_direction(label, g, d, num, noise(w, d), cap, scale, rho)
            if c.kind == "mismatch" and num.left is None:  # float64: the one-sided values, to tell a kink
                c = compare_direction(label, g, d, reference.directional(w, d, one_sided=True), noise(w, d), cap,
                                      scale, rho)
            return c

        def by_entries() -> list[Comparison]:
            scales = entry_scales(x0[w], per_entry).ravel()
            out_: list[Comparison] = []
            for k in range(max(1, int(np.prod(shape)))):
                d = np.zeros(shape if shape else ())
                d.flat[k] = scales[k]
                out_.append(compare(label_of(names[w], shape, k), d, float(scales[k])))
            return out_

        entrywise = mode == "entries"
        kink_at: list[str] = []
        if entrywise:
            comps = by_entries()
        else:
            for j, d in enumerate(directions[w]):
                c = compare(f"direction {j + 1}", d)
                if c.kind == "mismatch":
                    failing.append((c.abs_err / c.tol if c.tol else math.inf, d))
                comps.append(c)
            kinked = [(j, d) for j, (d, c) in enumerate(zip(directions[w], comps)) if c.kind == "kink"]
            size = int(np.prod(shape))
            if not strict and not failing and kinked and 0 < size <= KINK_ENTRIES:
                # a direction through a kink moves every entry: an error elsewhere smaller than the jump would hide
                # in it, so a kink is settled entry by entry (the kink entries are kinks, the others must agree)
                comps, entrywise = by_entries(), True
            elif not strict and not failing and kinked and size > 0:
                extra, found = settle_kinks(names[w], w, g, kinked, reference, noise, cap, rho)
                kink_at = [label_of(names[w], shape, k) for k in found]
                failing += [(c.abs_err / c.tol if c.tol else math.inf, dz) for c, dz in extra if c.kind == "mismatch"]
                comps = comps + [c for c, _ in extra]
        res = VariableResult(name=names[w], shape=shape, comparisons=comps, strict=strict, kink_entries=kink_at,
                             by_entries=entrywise)
        if entrywise:
            bad = [(c, k) for k, c in enumerate(comps) if c.kind == "mismatch"]
            res.located = sorted((Entry(names[w], entry_index(shape, k), c.analytic, c.numeric, c.abs_err,
                                        c.rel_err, c.digits) for c, k in bad), key=lambda e: -e.abs_err)[:MAX_LOCATED]
        elif failing and int(np.prod(shape)) > 0:
            worst = max(failing, key=lambda t: t[0])[1]
            res.located, res.located_evals = locate(names[w], w, g, worst, reference, noise, cap, rho)
        out.append(res)
    return out
