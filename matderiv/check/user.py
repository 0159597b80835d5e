"""Gradients the user computed — a numpy function, or an array at one point — checked against mpmath
differences of the expression (``md.check(f, X, grad=...)``), and VJPs (``md.check_vjp``).

A user function is called with the inputs in natural numpy shapes (vectors 1-D, scalars floats), the shapes
``md.lambdify`` functions take: by keyword when its parameters are named like the symbols, otherwise
positionally in the order of ``args=`` (the order you would give ``md.lambdify``); with one symbol no order is
needed. It returns the gradient with respect to the variable (a tuple, one per variable, when one function
serves several). See :mod:`.compare` for the tolerance and the verdicts.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..core.errors import ArgumentError, CheckError, ShapeError
from ..core.expr import Expr
from .calls import guarded, low_precision
from .compare import GradReport, kink_note, run
from .reference import MpmathReference, U

FAR = 2.0 ** -40  # relative input moves whose second differences measure the user's round-off (small enough that an
# ill-conditioned point's curvature, O(δ²κ²), stays below the round-off it is to measure)
FAR32 = 2.0 ** -16  # the same for a float32 gradient (its inputs round to float32: smaller moves would not move it)
U32 = 2.0 ** -24
RHO_MIN = 2.0 ** -40  # φ's relative float64 error counts beyond this: below, the moves of FAR re-draw the rounding
FLOAT32_NOTE = "the gradient is float32: at best ~7 digits (the tolerance is float32's)"
PERTURB = 4 * U  # the small moves used where the gradient jumps within FAR
JUMP = 1e-8  # second differences beyond this fraction of Σ|G∘D| mean a jump, not round-off
N_PERTURB = 8  # pairs: the largest of 8 second differences is rarely below a fifth of the actual error
N_NEAR = 3
TOLERANCE_TEXT = ("5 × the float64 round-off of the analytic side, measured by second differences of it under unequal input "
                  "moves of ±2^-40 (the largest of 8 pairs), + 16·max(u, ρ)·Σ|G∘D| (ρ: the function's own relative float64 "
                  "round-off) + 10 × the reference's error estimate")


def as_array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A user's gradient value (array, list, number, torch tensor) as a float array of ``shape``."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if value is None:
        raise ArgumentError(f"{what} is None: the function returned None (a missing return?)")
    if np.iscomplexobj(value):  # the imaginary part would be dropped silently by a float conversion
        raise ArgumentError(f"{what} is complex ({np.asarray(value).dtype}): gradients of real functions are real; "
                            f"return the real array (np.real(...) if its imaginary part is 0 by construction)")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{what} is not an array of numbers: {type(value).__name__} ({exc})") from None
    size = int(np.prod(shape)) if shape else 1
    if arr.size != size or (arr.ndim >= 2 and len(shape) == 2 and arr.shape != shape) or \
            (len(shape) == 2 and 1 not in shape and arr.ndim != 2) or \
            (len(shape) == 1 and arr.ndim == 2 and 1 not in arr.shape) or \
            (len(shape) >= 3 and [n for n in arr.shape if n != 1] != [n for n in shape if n != 1]):
        raise ShapeError(f"{what} has shape {arr.shape}, but the variable's shape is {shape}")
    return arr.reshape(shape)


def _lambdify_order(fn: Callable[..., Any]) -> list[str]:
    """The argument names of an ``md.lambdify`` function (its ``args`` are the symbols), else []: a
    ``functools.partial`` also has ``args``, the values it binds."""
    args = getattr(fn, "args", None)
    if isinstance(args, tuple) and args and all(isinstance(a, Expr) and a.is_symbol for a in args):
        return [a.name for a in args]
    return []


def caller(fn: Callable[..., Any], names: Sequence[str], args: Sequence[str] | None, what: str,
           extra: int = 0) -> Callable[[Mapping[str, Any], tuple[Any, ...]], Any]:
    """How to call the user's ``fn`` with the symbols' values (a dict name → value), then ``extra`` positional
    values (the seed of a VJP): by keyword name, in the order of ``args``, or for one symbol positionally."""
    order = _lambdify_order(fn)
    if args is not None:
        order = list(args)
        unknown = [a for a in order if a not in names]
        if unknown:
            raise ArgumentError(f"check: args names {', '.join(map(repr, unknown))}, which the expression does not "
                                f"use (its symbols: {', '.join(sorted(names))})")
    if not order:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        params = [] if sig is None else [p for p in sig.parameters.values()
                                          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                                          and not (p.kind == p.KEYWORD_ONLY and p.default is not p.empty)]
        named = [p.name for p in params if p.kind != p.POSITIONAL_ONLY]
        body = named[:len(named) - extra] if extra else named
        if body and all(n in names for n in body) and len(params) - extra == len(body):
            keys, seed_keys = body, named[len(body):]  # every parameter by keyword (a partial's may be keyword-only)

            def by_name(vals: Mapping[str, Any], rest: tuple[Any, ...]) -> Any:
                return fn(**{k: vals[k] for k in keys}, **dict(zip(seed_keys, rest)))
            return by_name
        if len(names) == 1:
            order = list(names)
        else:
            shown = ", ".join(p.name for p in params) if sig is not None else "unknown"
            raise ArgumentError(f"check: cannot tell which argument of {what} is which: its parameters ({shown}) "
                                f"are not the symbol names ({', '.join(sorted(names))}); name them so, or give "
                                f"args=[...] in md.lambdify order")

    def positional(vals: Mapping[str, Any], rest: tuple[Any, ...]) -> Any:
        return fn(*[vals[k] for k in order], *rest)
    return positional


def call_user(fn: Callable[..., Any], vals: Mapping[str, Any], rest: tuple[Any, ...], what: str) -> Any:
    """``fn`` (a :func:`caller`) on copies of the values: a function that writes into its inputs must not move
    the point of later evaluations."""
    vals = {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v for k, v in vals.items()}
    return guarded(f"check: calling {what}", fn, vals, rest)


def _moved(xs: Sequence[np.ndarray], rel: float, signs: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(x, dtype=float) * (1 + rel * r) for x, r in zip(xs, signs)]


def measure_noise(grads_at: Callable[[list[np.ndarray]], list[np.ndarray]], base: list[np.ndarray],
                  xs: Sequence[np.ndarray], wrt: Sequence[int], gen: np.random.Generator,
                  far: float = FAR) -> Callable[[int, np.ndarray], float]:
    """noise(w, D): the float64 round-off of ⟨G, D⟩ in the user's computation, measured.

    Second differences ⟨(b·G(x+aδ) + a·G(x−bδ))/(a+b) − G(x), D⟩ with every input entry moved by a relative δ =
    ``far`` (2⁻⁴⁰; 2⁻¹⁶ for a float32 gradient) times a, b random in [0.5, 1.5] (unequal: a rounding error linear
    in the input between two wraps would cancel in a symmetric difference): the true change of the gradient is
    linear in δ and cancels, its curvature
    term is O(δ²) ≈ 1e-24, and what remains is the round-off of three evaluations wherever a move of 1e-12 changes
    an intermediate beyond its last bit. It does not where the rounding is systematic and coarse: 1 − σ(t) near
    σ = 1 moves in steps of 1.1e-16, which a move of 1e-12 does not cross, so the three evaluations round alike and
    the second difference is 0. That round-off is φ's own (φ computed the same way loses the same digits), and the
    tolerance takes it from φ's relative float64 error ρ (:func:`matderiv.check.compare.tolerance`). Where the
    gradient jumps within δ (a kink of the user's function), the second differences are O(1): there the spread of
    G under moves of ±4 units of round-off serves instead."""
    far_: list[list[np.ndarray]] = [[] for _ in wrt]
    for _ in range(N_PERTURB):
        signs = [gen.choice([-1.0, 1.0], np.shape(x)) for x in xs]
        a, b = gen.uniform(0.5, 1.5, 2)  # unequal moves: a rounding error linear in the input (the sawtooth of
        # round(y) − y between two wraps) cancels in a symmetric second difference, not in this one
        plus, minus = grads_at(_moved(xs, a * far, signs)), grads_at(_moved(xs, -b * far, signs))
        for j, g0 in enumerate(base):
            far_[j].append((b * np.asarray(plus[j], dtype=float) + a * np.asarray(minus[j], dtype=float)) / (a + b)
                           - g0)
    near: list[list[np.ndarray]] = []
    pos = {w: j for j, w in enumerate(wrt)}

    def noise(w: int, d: np.ndarray) -> float:
        j = pos[w]
        second = max(abs(float(np.sum(dg * d))) for dg in far_[j])
        scale = float(np.sum(np.abs(base[j] * d)))
        if second <= (JUMP if far <= FAR else 1e-3) * scale:
            return second
        if not near:  # computed once, the first time a jump is seen
            for _ in range(N_NEAR):
                close = grads_at(_moved(xs, PERTURB, [gen.choice([-1.0, 1.0], np.shape(x)) for x in xs]))
                near.append([np.asarray(c, dtype=float) - g0 for c, g0 in zip(close, base)])
        return max(abs(float(np.sum(n[j] * d))) for n in near)
    return noise


def noise_from_reference(reference: MpmathReference, names: Sequence[str], values: Mapping[str, np.ndarray],
                         gen: np.random.Generator) -> Callable[[int, np.ndarray], float]:
    """For a gradient given as numbers (no function to re-run): how much the exact directional derivative moves
    when the inputs move by a few units in the last place — the conditioning part of any float64 computation."""
    moved = [_moved([values[n] for n in names], PERTURB, [gen.choice([-1.0, 1.0], np.shape(values[n])) for n in names])
             for _ in range(2)]
    refs = [reference.at(m) for m in moved]
    cache: dict[tuple[int, bytes], Any] = {}

    def noise(w: int, d: np.ndarray) -> float:
        key = (w, np.asarray(d, dtype=float).tobytes())
        if key not in cache:
            q0 = reference.directional(w, d, one_sided=False).central
            cache[key] = max(abs(float(r.directional(w, d, one_sided=False).central - q0)) for r in refs)
        return cache[key]
    return noise


def relative_roundoff(phi64: Callable[[list[np.ndarray]], float] | None, phi_mp: Callable[[list[np.ndarray]], Any],
                      xs: Sequence[np.ndarray], gen: np.random.Generator) -> float:
    """ρ: the relative float64 error of φ (its numpy code against mpmath at 30 digits), the larger at two points
    moved by a relative 2⁻⁶ at most (a single point may round luckily); u when φ has no numpy code, or when
    ρ ≤ 2⁻⁴⁰ (such round-off the moves of :func:`measure_noise` re-draw). Never at x itself: where φ(x) ≈ 0 (a
    constraint on its surface, log det of a rotation) φ's float value is all rounding, ρ would be 1 and any
    gradient would pass, while cancellation that persists nearby (1 − σ(t)) is measured at the moved points."""
    if phi64 is None:
        return U
    import mpmath

    from .reference import to_mp
    rho = U
    # the moved points: a relative 2⁻⁶·U(−1, 1) per entry re-draws every rounding (a move of 2⁻²⁰ would leave
    # 1 + e^−31 on the same float); their exact values are computed, so the size of the move costs nothing
    points = [_moved(xs, 2.0 ** -6, [gen.uniform(-1.0, 1.0, np.shape(x)) for x in xs]) for _ in range(2)]
    for p in points:
        try:
            v64 = float(phi64(p))
            with mpmath.workdps(30):
                exact = phi_mp([to_mp(x) for x in p])
                exact = exact.reshape(-1)[0] if isinstance(exact, np.ndarray) else exact
                if not (np.isfinite(v64) and isinstance(exact, mpmath.mpf) and mpmath.isfinite(exact)):
                    continue  # outside the domain there (a moved point): no estimate from it
                err, size = float(abs(mpmath.mpf(v64) - exact)), float(abs(exact))
        except Exception:  # φ's numpy code failed here: no estimate from this point
            continue
        rho = max(rho, min(1.0, err / size) if size else (1.0 if err else U))
    return rho if rho > RHO_MIN else U


def check_values(title: str, phi_mp: Callable[[list[np.ndarray]], Any], names: list[str], nat: dict[str, np.ndarray],
                 wrt_names: list[str], grad: object, dps: int, mode: str, strict: bool, args: Sequence[str] | None,
                 dirs: dict[str, list[np.ndarray]], gen: np.random.Generator, seed_name: str | None = None,
                 what: str = "grad", given_at: bool = False,
                 phi64: Callable[[list[np.ndarray]], float] | None = None, rng: int | None = None) -> GradReport:
    """The check of user gradient values (``grad``: a function, arrays, or a list of one per variable). With
    ``seed_name`` (a VJP), the function gets the other symbols' values and then the seed's. ``phi64``: φ in
    float64 (its numpy code), for φ's own relative round-off."""
    rest: tuple[Any, ...] = () if seed_name is None else (nat[seed_name],)
    inputs = [n for n in names if n != seed_name]
    shapes = {n: np.shape(nat[n]) for n in names}
    wrt_index = [names.index(n) for n in wrt_names]
    items = list(grad) if isinstance(grad, (list, tuple)) and len(wrt_names) > 1 else [grad]
    if isinstance(grad, (list, tuple)) and len(wrt_names) == 1 and len(grad) == 1 and \
            (callable(grad[0]) or isinstance(grad[0], (np.ndarray, list, tuple))):
        items = [grad[0]]
    if len(items) != len(wrt_names) and not (len(items) == 1 and callable(items[0])):
        raise ArgumentError(f"check: {what} gives {len(items)} item(s) for {len(wrt_names)} variable(s) "
                            f"({', '.join(wrt_names)}); give one per variable, or one function returning a tuple")
    one_fn = len(items) == 1 and callable(items[0]) and len(wrt_names) > 1
    calls = [caller(it, inputs, args, what, extra=len(rest)) if callable(it) else None for it in items]
    if any(c is None for c in calls) and not given_at:
        raise ArgumentError(f"check: {what} given as numbers is the gradient at one point; give that point with at=, "
                            f"or give a function of the inputs")
    low: list[bool] = []

    def grads_at(vals: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if one_fn:
            res = call_user(calls[0], vals, rest, what)  # type: ignore[arg-type]
            if not isinstance(res, (list, tuple)) or len(res) != len(wrt_names):
                raise ArgumentError(f"check: {what} must return a tuple of {len(wrt_names)} gradients "
                                    f"({', '.join(wrt_names)}), got {type(res).__name__}")
        else:
            res = [call_user(c, vals, rest, what) if c is not None else it for c, it in zip(calls, items)]
        low.append(any(low_precision(r) for r in res))
        return [as_array(r, shapes[n], f"the {what} value for {n!r}") for r, n in zip(res, wrt_names)]

    base = grads_at(nat)
    for g, n in zip(base, wrt_names):
        if not np.all(np.isfinite(g)):
            raise CheckError(f"check: the {what} value for {n!r} has non-finite entries at the chosen point")
    reference = MpmathReference(phi_mp, [nat[n] for n in names], dps, verify=False, what="the expression",
                                names=names)
    reference.start()
    notes, inconclusive = [], []
    if all(c is not None for c in calls):
        again = grads_at(nat)
        if any(not np.array_equal(a, b) for a, b in zip(base, again)):
            inconclusive.append(f"{what} is not deterministic: two calls at the same point differ (random numbers "
                                f"inside? a torch module in training mode: call module.eval())")
    float32 = low[0]
    if float32:
        notes.append(FLOAT32_NOTE)
    xs = [nat[n] for n in names]
    rho = max(relative_roundoff(phi64, phi_mp, xs, gen), U32 if float32 else U)
    if all(c is not None for c in calls):
        noise = measure_noise(lambda v: grads_at(dict(zip(names, v))), base, xs, wrt_index, gen,
                              FAR32 if float32 else FAR)
    else:
        noise = noise_from_reference(reference, names, nat, gen)
    variables = [] if inconclusive else run(names, wrt_index, xs, base, reference, noise,
                                            {names.index(n): dirs[n] for n in wrt_names}, mode, strict, cap=16.0,
                                            rho=rho, per_entry=True)
    if rho > 1e3 * U:
        notes.append(f"the expression loses digits to cancellation in float64 (relative error {rho:.1e}): the "
                     f"tolerance allows the gradient as many")
    note = kink_note(sum(v.kinks for v in variables), strict)
    if note:
        notes.append(note)
    return GradReport(title=title, variables=variables, reference=reference.describe(), reference_kind="mpmath",
                      reference_digits=reference.digits(), mode=mode, tolerance=TOLERANCE_TEXT, strict=strict,
                      notes=notes, evaluations=reference.evals, inconclusive=inconclusive, rng=rng,
                      sizes={n: tuple(shapes[n]) for n in names})
