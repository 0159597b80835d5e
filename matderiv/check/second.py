"""The certificate of second derivatives and Jacobians: ``md.check(f, x, order=2)`` and ``md.check_jacobian``.

For the Hessian H = md.hessian(f, X) (vec form for a matrix X) and random directions D, at ``wp = 2·dps + 10``
digits (the generated mpmath code of f, ∇f and H):

* **first-derivative differences**: (∇f(X + hD) − ∇f(X − hD)) / 2h against H vec D, h = 10^−(dps+5) (the
  central quotient's truncation error O(h²) and rounding error 10^−wp/h are both below 10^−dps);
* **second differences of f**: (f(X + kD) − 2f(X) + f(X − kD)) / k² against vec(D)ᵀ H vec D with
  k = 10^−(dps/2+5) (truncation O(k²) = 10^−(dps+10), rounding 10^−wp/k² = 10^−dps): f itself, with no
  derivative formula in between;
* **float64**: H vec D from the generated numpy code against the mpmath quotients.

For a Jacobian J = md.jacobian(F, X), the first and the last: (F(X + hD) − F(X − hD)) / 2h against J vec D.
Digits: −log₁₀(‖quotient − formula‖ / max(‖quotient‖, tiny)), the worst over the directions, tiny = 10^−15 times
the size of the values (so a zero derivative certifies); ``ok`` when every mpmath count is ≥ dps − 15 and the
float64 count ≥ 8. The point (generic, in the domain of f and its derivatives) and the dimension sizes are those
the first-order certificate ``md.check`` chooses with the same ``rng``, which is run first and must pass too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import mpmath
import numpy as np
import sympy

from ..ad import grad as _grad, resolve
from ..codegen.mpmath import mpmath_function
from ..codegen.numpy import lambdify
from ..core.errors import ArgumentError, DerivativeError, MatderivError, ShapeError
from ..core.expr import Expr, describe, fmt_shape
from ..jacobian import hessian, jacobian, seed_for
from ..ops import as_expr
from .certificate import NUMPY_DIGITS, SECOND, Verdict, _direction, _parse_candidates, _short, check, fmt_digits
from .compare import check_options

MARGIN = 15  # mpmath digits must reach dps − MARGIN
NUMPY_CAP = 16.0


@dataclass
class SecondReport(Verdict):
    """The certificate of a Hessian (``kind="hessian"``), a Jacobian (``"jacobian"``), a Hessian-vector product
    (``"hvp"``) or a Jacobian-vector product (``"jvp"``)."""

    margin = MARGIN  # second-order certificates need dps − 15 digits (issue 7.9)
    ok: bool
    kind: str
    f: Expr
    wrt: Expr
    formula: Expr
    digits_first: float           # mpmath differences of the first derivative (of F, for a Jacobian)
    digits_second: float | None   # second differences of f (Hessians and HVPs only)
    digits_numpy: float | None    # the numpy float64 code of the formula
    dps: int
    rng: int
    dims: dict[str, int]
    directions: int
    first_order: Any = None       # the first-order certificate run to choose the point
    direction: Expr | None = None  # the direction symbol of an HVP or a JVP
    numpy_error: str | None = None
    values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        """One line: ``certified: 35 digits (mpmath differences of the gradient), 30 digits (second differences
        of f), 15.2 digits (numpy float64), dps 50 at n=3; rng 0``."""
        need, need_n = self.thresholds
        of = "the gradient" if self.kind in ("hessian", "hvp") else "F"
        parts = [f"{_fmt(self.digits_first)} digits (mpmath differences of {of})"]
        if self.digits_second is not None:
            parts.append(f"{_fmt(self.digits_second)} digits (second differences of f)")
        parts.append(f"{_fmt(self.digits_numpy)} digits (numpy float64)" if self.digits_numpy is not None
                     else f"numpy float64 not run: {self.numpy_error}")
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        head = "certified" if self.ok else f"FAILED (needs ≥ {need:g} mpmath digits, ≥ {need_n:g} float64)"
        return f"{head}: {', '.join(parts)}, dps {self.dps}" + (f" at {dims}" if dims else "") + f"; rng {self.rng}"

    def __str__(self) -> str:
        v = self.direction.name if self.direction is not None else "V"
        what = {"hessian": "∇²", "jacobian": "J", "hvp": f"∇²·{v}", "jvp": f"dF[{v}]"}[self.kind]
        return f"{what} of ({_short(self.f)}) w.r.t. {self.wrt.name} = {_short(self.formula)}  — {self.summary()}"


def _fmt(d: float | None) -> str:
    return "?" if d is None else fmt_digits(d)


def _mp(a: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix(np.asarray(a, dtype=object).tolist())


def _flat(v: Any) -> list[Any]:
    """The entries of an mpmath result, column-major (vec), or the number itself."""
    if isinstance(v, mpmath.matrix):
        return [v[i, j] for j in range(v.cols) for i in range(v.rows)]
    return [v]


def _digits(diff: list[Any], ref: list[Any], tiny: Any, cap: float) -> float:
    err = mpmath.sqrt(mpmath.fsum(d * d for d in diff))
    scale = max(mpmath.sqrt(mpmath.fsum(r * r for r in ref)), tiny)
    if err == 0:
        return cap
    return float(min(cap, max(0.0, -mpmath.log10(err / scale))))


def _natural(s: Expr, a: np.ndarray) -> Any:
    a = np.asarray(a, dtype=float)
    if a.shape == (1, 1):
        return float(a[0, 0])
    return a[:, 0] if a.shape[1] == 1 else a[0, :] if a.shape[0] == 1 else a


def _single(f: Expr, wrt: object) -> Expr:
    if isinstance(wrt, (list, tuple)):
        if len(wrt) != 1:
            raise ArgumentError("check(order=2) and check_jacobian take one variable at a time, got "
                                f"{len(wrt)}: call them once per variable")
        wrt = wrt[0]
    return resolve(f, wrt)  # type: ignore[arg-type]


def check_second(f: object, wrt: object, at: Mapping[object, object] | None = None, dps: int = 50,
                 rng: int | None = 0, directions: int = 3, order: int = 2, grad: object = None, seed: object = None,
                 mode: str = "directions", strict: bool = False, args: object = None) -> SecondReport:
    """Certify md.hessian(f, wrt), or the candidate Hessian ``grad`` (an expression or text in the text language,
    numel(X)×numel(X), vec form for a matrix X), as ``md.check(f, x, order=2)``: see the module docstring.
    ``seed``, ``mode``, ``strict`` and ``args`` belong to first-order checks and are refused here."""
    if order != 2:
        raise ArgumentError(f"check: order must be 1 or 2, got {order!r}")
    check_options("check", dps, directions, rng)
    for name, value, default in (("seed", seed, None), ("mode", mode, "directions"), ("strict", strict, False),
                                 ("args", args, None)):
        if value is not default and value != default:
            raise ArgumentError(f"check(order=2) does not take {name}= (got {value!r}): it certifies the Hessian of "
                                "a scalar; md.check_jacobian certifies a Jacobian, md.check_hvp a Hessian-vector "
                                "product")
    f = as_expr(f, "check: the expression")
    if not f.is_scalar:
        raise DerivativeError(f"check(order=2) certifies the Hessian of a scalar, but {describe(f)} is not; "
                              "md.check_jacobian certifies the Jacobian of a vector or matrix expression")
    x = _single(f, wrt)
    H = hessian(f, x) if grad is None else _candidate_hessian(f, x, grad)
    return _certify("hessian", f, x, H, _grad(f, x), at, dps, rng, directions)  # type: ignore[arg-type]


def _candidate_hessian(f: Expr, x: Expr, grad: object) -> Expr:
    """The user's Hessian formula: an expression or text (parsed with f's symbols), numel(X)×numel(X)."""
    if isinstance(grad, (list, tuple)) and len(grad) == 1:
        grad = grad[0]
    if not isinstance(grad, (Expr, str)):
        raise ArgumentError(f"check(order=2): grad must be a Hessian formula (an expression or text), got "
                            f"{type(grad).__name__}; numbers or a numpy function can be checked against "
                            "md.lambdify(md.hessian(f, x))")
    H = as_expr(_parse_candidates(grad, f.free_symbols), "check(order=2): the candidate Hessian")
    size = sympy.expand(x.shape[0] * x.shape[1])
    if not (H.is_scalar and size == 1) and tuple(sympy.expand(d) for d in H.shape) != (size, size):
        raise ShapeError(f"check(order=2): the candidate Hessian {describe(H)} must be {fmt_shape((size, size))} "
                         f"(numel({x.name}) × numel({x.name}), vec form for a matrix)")
    unknown = sorted(s.name for s in H.free_symbols - f.free_symbols)
    if unknown:
        raise ArgumentError(f"check(order=2): the candidate Hessian {describe(H)} uses {', '.join(map(repr, unknown))}, "
                            "which the expression does not")
    return H


def check_jacobian(F: object, wrt: object, at: Mapping[object, object] | None = None, dps: int = 50,
                   rng: int | None = 0, directions: int = 3) -> SecondReport:
    """Certify md.jacobian(F, wrt): mpmath central differences of F itself against J vec D along random
    directions D, and the numpy float64 code of J (see the module docstring)."""
    F = as_expr(F, "check_jacobian: the expression")
    x = _single(F, wrt)
    return _certify("jacobian", F, x, jacobian(F, x), F, at, dps, rng, directions)


def check_hvp(f: object, wrt: object, hvp: object, direction: object, at: Mapping[object, object] | None = None,
              dps: int = 50, rng: int | None = 0, directions: int = 3) -> SecondReport:
    """Certify a Hessian-vector product: ``hvp`` is a formula for ∇²f(X)[V] in the symbols of f and the
    symbol ``direction`` V (X's shape), compared at random V = D with mpmath differences of ∇f along D and
    ⟨D, hvp⟩ with second differences of f (module docstring)."""
    f = as_expr(f, "check_hvp: the expression")
    if not f.is_scalar:
        raise DerivativeError(f"check_hvp needs a scalar, but {describe(f)} is not")
    x = _single(f, wrt)
    hv, v = _directional(hvp, direction, x, "check_hvp")
    return _certify("hvp", f, x, hv, _grad(f, x), at, dps, rng, directions, v)  # type: ignore[arg-type]


def check_jvp(F: object, wrt: object, jvp: object, direction: object, at: Mapping[object, object] | None = None,
              dps: int = 50, rng: int | None = 0, directions: int = 3) -> SecondReport:
    """Certify a Jacobian-vector product: ``jvp`` is a formula for dF[V] in the symbols of F and the symbol
    ``direction`` V (X's shape), compared at random V = D with mpmath differences of F along D."""
    F = as_expr(F, "check_jvp: the expression")
    x = _single(F, wrt)
    jv, v = _directional(jvp, direction, x, "check_jvp")
    if jv.shape != F.shape:
        raise DerivativeError(f"check_jvp: the JVP {describe(jv)} must have the shape of {describe(F)}")
    return _certify("jvp", F, x, jv, F, at, dps, rng, directions, v)


def _directional(formula: object, direction: object, x: Expr, what: str) -> tuple[Expr, Expr]:
    e = as_expr(formula, f"{what}: the formula")
    v = direction
    if isinstance(v, str):
        v = next((s for s in e.free_symbols if s.name == v), None)
    if not isinstance(v, Expr) or not v.is_symbol or v.shape != x.shape:
        raise ArgumentError(f"{what}: direction must be the symbol of the formula with the shape of "
                            f"{describe(x)} in which it is linear, got {direction!r}")
    if v == x:
        raise ArgumentError(f"{what}: the direction {v.name!r} is the variable itself; a direction is held "
                            f"constant — write the formula in a new symbol of {x.name}'s shape")
    return e, v


def _certify(kind: str, f: Expr, x: Expr, formula: Expr, first: Expr, at: Mapping[object, object] | None,
             dps: int, rng: int | None, directions: int, direction: Expr | None = None) -> SecondReport:
    if rng is None:
        rng = int(np.random.SeedSequence().entropy % 2**63)
    if f.is_scalar:
        base = check(f, x, at=at, dps=dps, rng=rng, directions=directions)
    else:
        base = check(f, x, at=at, dps=dps, rng=rng, directions=directions, seed=seed_for(f, "S"))
    dims = dict(base.dims)
    syms = sorted(f.free_symbols | formula.free_symbols | first.free_symbols | ({direction} if direction else set()),
                  key=lambda s: s.name)
    missing = [s.name for s in syms if s.name not in base.values and s != direction]
    if missing:
        raise DerivativeError(f"check: the derivative uses {', '.join(missing)}, which the expression does not")
    values = {s: np.asarray(base.values[s.name], dtype=float) for s in syms if s != direction}
    i = syms.index(x)
    gen = np.random.default_rng([int(rng), 2])
    dirs = [_direction(x, values[x].shape, values[x], gen) for _ in range(directions)]  # symmetric for symmetric X
    iv = None
    if direction is not None:
        iv = syms.index(direction)
        values[direction] = dirs[0]
        dims.update(base.dims)

    first_fn = mpmath_function(syms, first, dims)
    form_fn = mpmath_function(syms, formula, dims)
    f_fn = mpmath_function(syms, f, dims)
    d1, d2 = float(dps), float(dps) if kind in ("hessian", "hvp") else None
    quotients: list[list[Any]] = []
    with mpmath.workdps(2 * dps + 10):
        mp_vals = [_mp(values[s]) for s in syms]
        J = form_fn(*mp_vals) if direction is None else None
        f0 = _flat(f_fn(*mp_vals))[0] if kind in ("hessian", "hvp") else None
        h = mpmath.mpf(10) ** -(dps + 5)
        k = mpmath.mpf(10) ** -(dps // 2 + 5)
        for d in dirs:
            dm = _mp(d)
            vd = mpmath.matrix(_flat(dm))  # vec D
            if iv is not None:  # the formula at V = D
                at_d = list(mp_vals)
                at_d[iv] = dm
                jd = _flat(form_fn(*at_d))
            else:
                jd = _flat(J * vd) if isinstance(J, mpmath.matrix) else [J * vd[0]]
            plus, minus = list(mp_vals), list(mp_vals)
            plus[i], minus[i] = mp_vals[i] + h * dm, mp_vals[i] - h * dm
            gp, gm = _flat(first_fn(*plus)), _flat(first_fn(*minus))
            q = [(a - b) / (2 * h) for a, b in zip(gp, gm)]
            quotients.append(q)
            tiny = mpmath.mpf(10) ** -15 * max([abs(v) for v in gp + gm] + [mpmath.mpf(10) ** -300])
            d1 = min(d1, _digits([a - b for a, b in zip(q, jd)], q, tiny, float(dps)))
            if kind in ("hessian", "hvp"):
                plus[i], minus[i] = mp_vals[i] + k * dm, mp_vals[i] - k * dm
                fp, fm = _flat(f_fn(*plus))[0], _flat(f_fn(*minus))[0]
                q2 = (fp - 2 * f0 + fm) / k ** 2
                quad = mpmath.fsum(a * b for a, b in zip(_flat(vd), jd))
                tiny2 = mpmath.mpf(10) ** -15 * max(abs(fp), abs(fm), abs(f0), mpmath.mpf(10) ** -300)
                d2 = min(d2, _digits([q2 - quad], [q2], tiny2, float(dps)))  # type: ignore[type-var]
    dn, numpy_error = _numpy_digits(syms, formula, values, dirs, quotients, dims, direction)
    need = dps - MARGIN
    numpy_ok = dn >= NUMPY_DIGITS if dn is not None else (numpy_error or "").startswith("no numpy")
    ok = bool(base.ok) and d1 >= need and (d2 is None or d2 >= need) and bool(numpy_ok)
    return SecondReport(ok=ok, kind=kind, f=f, wrt=x, formula=formula, digits_first=d1, digits_second=d2,
                        digits_numpy=dn, dps=dps, rng=int(rng), dims=dims, directions=directions,
                        first_order=base, direction=direction, numpy_error=numpy_error,
                        values={s.name: values[s] for s in syms})


def _numpy_digits(syms: list[Expr], formula: Expr, values: dict[Expr, np.ndarray], dirs: list[np.ndarray],
                  quotients: list[list[Any]], dims: dict[str, int],
                  direction: Expr | None = None) -> tuple[float | None, str | None]:
    """Digits of J vec D in float64 (the generated numpy function) against the mpmath difference quotients."""
    try:
        fn = lambdify(list(syms), formula)
    except MatderivError as exc:
        return None, f"no numpy code: {exc}"
    kw = {d: dims[d] for d in fn.dims}

    def evaluate(vals: dict[Expr, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(*(_natural(s, vals[s]) for s in syms), **kw), dtype=float)
    worst = NUMPY_CAP
    try:
        J = evaluate(values) if direction is None else None
        for d, q in zip(dirs, quotients):
            if J is not None:  # a row (1-D), a column (1-D) or a number back to (numel F)×(numel X)
                jm = J.reshape(-1, d.size)
                got, size = jm @ d.ravel(order="F"), float(np.abs(jm).max(initial=0.0))
            else:
                out = evaluate({**values, direction: d})  # type: ignore[dict-item]
                got = (out.reshape(-1, 1) if out.ndim < 2 else out).ravel(order="F")
                size = float(np.abs(got).max(initial=0.0))
            ref = np.array([float(v) for v in q])
            err = float(np.linalg.norm(got - ref))
            scale = max(float(np.linalg.norm(ref)), 1e-8 * max(1.0, size))
            worst = min(worst, NUMPY_CAP if err == 0 else max(0.0, min(NUMPY_CAP, -np.log10(err / scale))))
    except MatderivError:
        raise
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return worst, None

SECOND.append(check_second)
