"""The certificate: a derivative formula checked against mpmath high-precision central differences.

For a scalar φ (f itself, or ⟨seed, F⟩ for a matrix-valued F) and each variable W, along k random directions D:

    (φ(W + hD) − φ(W − hD)) / 2h   versus   ⟨G(W), D⟩,

G being the derived (or a candidate) gradient. The difference quotient is computed with the generated mpmath code
at ``wp = 2·dps + 10`` digits with ``h = 10^−(dps+5)``: its truncation error is O(h²) = 10^−(2dps+10) and its
rounding error 10^−wp/h = 10^−(dps+5), so a correct formula agrees to more than ``dps`` digits, also along a
direction where ⟨G, D⟩ = 0 and φ curves (a forward quotient's O(h) error would sit at the threshold there).
⟨G, D⟩ is computed
twice: (a) with the mpmath code of the formula at ``wp`` digits, (b) in float64 with the generated numpy function.

Digits of agreement: −log₁₀(|fd − ⟨G, D⟩| / max(|fd|, tiny)), capped at ``dps`` (mpmath) and 16 (float64), the
worst over the directions; ``tiny`` = 10^−15·|φ| (mpmath), 10^−8·|φ| (float64) are the levels at which the
difference quotient is rounding noise, so an identically zero derivative certifies too. The certificate is ``ok``
when every mpmath digit count is ≥ ``dps − 10`` and every float64 digit count is ≥ 8.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy

from ..ad import grad as _grad, resolve, vjp as _vjp
from ..codegen.numpy import lambdify
from ..core.errors import ArgumentError, CheckError, DerivativeError, MatderivError, ShapeError
from ..core.expr import ONE, Expr, describe, fmt_shape, iter_nodes
from ..core.domains import EVERYWHERE, Domain
from ..core.expr import OPS
from ..ops import as_expr, mul, sum_, symbol
from ..codegen.mpmath import mpmath_function
from .calls import guarded
from .compare import check_options
from .reference import random_direction
from .user import check_values

MARGIN = 10  # mpmath digits must reach dps − MARGIN
NUMPY_DIGITS = 8.0  # float64 digits must reach this
NUMPY_CAP = 16.0
SIZES = (3, 4, 2, 5, 6, 7, 8, 9, 10, 11, 12)  # sizes for dimensions no value fixes: small and distinct
MAX_TRIES = 40
NO_NUMPY = "no numpy code"  # the formula needs a function numpy lacks: the certificate is mpmath's alone
SECOND: list[Callable[..., Any]] = []  # check(order=2): matderiv.check.second.check_second, registered there


class Verdict:
    """What every certificate report shares: truthy when it passes; the digits it needs, mpmath dps − ``margin``
    and float64 NUMPY_DIGITS."""

    ok: bool
    dps: int
    margin = MARGIN

    def __bool__(self) -> bool:
        return self.ok

    @property
    def thresholds(self) -> tuple[float, float]:
        """(mpmath digits needed, float64 digits needed)."""
        return float(self.dps - self.margin), NUMPY_DIGITS


@dataclass
class CheckReport(Verdict):
    """The certificate of ``d φ / d W`` for each W; ``bool(report)`` is ``report.ok``."""

    ok: bool
    f: Expr
    wrt: tuple[Expr, ...]
    formulas: tuple[Expr, ...]
    digits_mpmath: dict[str, float]
    digits_numpy: dict[str, float | None]
    dps: int
    rng: int
    dims: dict[str, int]
    seed: Expr | None = None
    candidate: bool = False
    directions: int = 3
    numpy_error: str | None = None
    values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def numpy_written(self) -> bool:
        """False when numpy cannot express the formula (erf, polygamma): then mpmath alone certifies it."""
        return not (self.numpy_error or "").startswith(NO_NUMPY)

    def passed(self, name: str) -> bool:
        """Whether the derivative with respect to the symbol ``name`` is certified."""
        dm, dn = self.digits_mpmath[name], self.digits_numpy[name]
        numpy_ok = not self.numpy_written or (dn is not None and dn >= NUMPY_DIGITS)
        return dm >= self.dps - MARGIN and numpy_ok

    def __str__(self) -> str:
        lhs = f"({_short(self.f)})" if self.seed is None else f"<{_short(self.seed)}, {_short(self.f)}>"
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        tail = "; ".join(p for p in (dims, f"rng={self.rng}") if p)
        need_m, need_n = self.thresholds
        lines = []
        for w, g in zip(self.wrt, self.formulas):
            dm, dn = self.digits_mpmath[w.name], self.digits_numpy[w.name]
            good = self.passed(w.name)
            m = f"{fmt_digits(dm)} digits (mpmath, dps={self.dps}{'' if dm >= need_m else f'; needs ≥ {need_m:g}'})"
            if dn is None:
                n = f"numpy float64 not run: {self.numpy_error}"
            else:
                n = f"{fmt_digits(dn)} digits (numpy float64{'' if dn >= need_n else f'; needs ≥ {need_n:g}'})"
            lines.append(f"{'certified' if good else 'FAILED'}: d/d{w.name} {lhs} = {_short(g)}  — {m}, {n}; {tail}")
        return "\n".join(lines)

    def summary(self, name: str) -> str:
        """The one line the ``matderiv`` command prints for the symbol ``name``, e.g. ``certified: 30 digits
        (mpmath, dps 30), 15.7 digits (numpy float64) at n=3, m=4; rng 0`` (``FAILED: …; needs 25`` below a
        threshold)."""
        dm, dn = self.digits_mpmath[name], self.digits_numpy[name]
        need_m, need_n = self.thresholds
        m = f"{fmt_digits(dm)} digits (mpmath, dps {self.dps}{'' if dm >= need_m else f'; needs {need_m:g}'})"
        n = (f"numpy float64 not run: {self.numpy_error}" if dn is None else
             f"{fmt_digits(dn)} digits (numpy float64{'' if dn >= need_n else f'; needs {need_n:g}'})")
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        return (f"{'certified' if self.passed(name) else 'FAILED'}: {m}, {n}" + (f" at {dims}" if dims else "")
                + f"; rng {self.rng}")


def _short(e: Expr, limit: int = 300) -> str:
    """The text of ``e``, cut in the middle when longer than ``limit`` characters (reports stay readable)."""
    t = str(e)
    return t if len(t) <= limit else f"{t[:limit // 2]} … {t[-limit // 2:]}"


def fmt_digits(d: float) -> str:
    return f"{d:.0f}" if d == int(d) else f"{d:.1f}"


# ---- choosing the variables, the point and the dimension sizes ----------------------------------------------------
def _wrt_list(f: Expr, wrt: object) -> list[Expr]:
    items = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    if not items:
        raise ArgumentError("check: wrt is empty; give a symbol, a name or a list of them")
    ws = [resolve(f, w, "check: wrt") for w in items]  # type: ignore[arg-type]
    for i, w in enumerate(ws):
        if w in ws[:i]:
            raise ArgumentError(f"check: wrt names {w.name!r} twice")
    return ws


def _candidates(grad: object, ws: list[Expr]) -> list[Expr]:
    gs = list(grad) if isinstance(grad, (list, tuple)) else [grad]
    if len(gs) != len(ws):
        raise ArgumentError(f"check: grad gives {len(gs)} formula(s) for {len(ws)} variable(s) "
                            f"({', '.join(w.name for w in ws)}); give one per variable")
    out = []
    for g, w in zip(gs, ws):
        g = as_expr(g, f"check: the candidate gradient for {w.name!r}")
        if g.shape != w.shape and not (g.is_scalar and w.is_scalar):
            raise ShapeError(f"check: the candidate gradient {describe(g)} for {w.name!r} must have "
                             f"{w.name}'s shape {fmt_shape(w.shape)}")
        out.append(g)
    return out


def _numeric_array(name: str, value: object) -> np.ndarray:
    """``value`` as an object array of real numbers (ints, floats, mpf kept exact)."""
    try:
        arr = np.array(value, dtype=object)
    except Exception as exc:  # numpy's errors for ragged input vary between versions
        raise ArgumentError(f"check: the value of {name!r} is not an array of numbers: {exc}") from exc
    if arr.dtype != object:  # pragma: no cover - dtype=object always gives object
        arr = arr.astype(object)
    for v in arr.flat:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (Real, mpmath.mpf)):
            raise ArgumentError(f"check: the value of {name!r} must hold real numbers, got {v!r}")
        if not mpmath.isfinite(mpmath.mpmathify(v)):
            raise ArgumentError(f"check: the value of {name!r} has the non-finite entry {v!r}")
    return arr


def _as_2d(s: Expr, arr: np.ndarray) -> np.ndarray:
    """The value as a 2-D array: a number for a scalar, 1-D for a vector (or row), 2-D for anything."""
    r, c = s.shape
    out = None
    if arr.ndim == 0 and (r, c) == (ONE, ONE):
        out = arr.reshape(1, 1)
    elif arr.ndim == 1:
        if (r, c) == (ONE, ONE) and arr.shape[0] == 1:
            out = arr.reshape(1, 1)
        elif c == ONE and r != ONE:
            out = arr.reshape(-1, 1)
        elif r == ONE and c != ONE:
            out = arr.reshape(1, -1)
    elif arr.ndim == 2:
        out = arr
    if out is None or any(d.is_Integer and int(d) != n for d, n in zip(s.shape, out.shape)):
        raise ShapeError(f"check: the value of {s.name!r} has shape {arr.shape}, which does not fit "
                         f"{describe(s)}")
    return out


class _Point:
    """The symbols' values (object arrays, 2-D) and the dimension sizes with where each came from."""

    def __init__(self, syms: list[Expr], dims: list[sympy.Symbol]) -> None:
        self.syms = {s.name: s for s in syms}
        self.dims = {d.name: d for d in dims}
        self.values: dict[Expr, np.ndarray] = {}
        self.size: dict[sympy.Symbol, int] = {}
        self.source: dict[sympy.Symbol, str] = {}

    def bind(self, at: Mapping[object, object], required: frozenset[Expr]) -> None:
        """The values and dimension sizes of ``at``; once it gives a value, every ``required`` symbol needs one."""
        if not isinstance(at, Mapping):
            raise ArgumentError(f"check: at must be a dict of symbols or names to values, got {type(at).__name__}")
        given: list[tuple[Expr, np.ndarray]] = []
        for key, value in at.items():
            name = key.name if isinstance(key, Expr) and key.is_symbol else key
            if isinstance(key, sympy.Symbol):
                name = key.name
            if not isinstance(name, str):
                raise ArgumentError(f"check: the keys of at must be symbols or names, got {key!r}")
            if name in self.syms:
                s = self.syms[name]
                if isinstance(key, Expr) and key != s:
                    raise ShapeError(f"check: at gives {describe(key)}, but the expression's {name!r} is "
                                     f"{fmt_shape(s.shape)}")
                given.append((s, _as_2d(s, _numeric_array(name, value))))
            elif name in self.dims and not isinstance(key, Expr):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                    raise ArgumentError(f"check: the size of dimension {name!r} must be a positive int, "
                                        f"got {value!r}")
                self._set(self.dims[name], int(value), f"at[{name!r}]")
            else:
                known = ", ".join(sorted(self.syms)) or "none"
                raise ArgumentError(f"check: at gives a value for {name!r}, which is not a symbol of the "
                                    f"expression (its symbols: {known})")
        for s, arr in given:
            for ax in (0, 1):
                d = s.shape[ax]
                if isinstance(d, sympy.Symbol):
                    self._set(d, arr.shape[ax], f"the value of {s.name!r}")
        for s, arr in given:
            self._fits(s, arr.shape)
            if s.symmetric and not all(arr[i, j] == arr[j, i] for i in range(arr.shape[0]) for j in range(i)):
                raise ArgumentError(f"check: {s.name!r} is declared symmetric but its value is not")
            self.values[s] = arr
        missing = [s for s in self.syms.values() if s in required and s not in self.values]
        if any(s in required for s, _ in given) and missing:
            raise ArgumentError(f"check: at gives no value for {', '.join(describe(s) for s in missing)}; give "
                                "every symbol's value, or none for random values")

    def _set(self, d: sympy.Symbol, n: int, source: str) -> None:
        if d in self.size and self.size[d] != n:
            raise ShapeError(f"check: dimension {d.name} is {self.size[d]} from {self.source[d]} but {n} "
                             f"from {source}")
        self.size.setdefault(d, n)
        self.source.setdefault(d, source)

    def concrete(self, d: sympy.Expr) -> int:
        v = sympy.sympify(d).xreplace({k: sympy.Integer(n) for k, n in self.size.items()})
        if not v.is_Integer or int(v) < 1:  # pragma: no cover - every dimension symbol gets a size first
            raise ShapeError(f"check: dimension {d} has no positive size")
        return int(v)

    def _fits(self, s: Expr, shape: tuple[int, ...]) -> None:
        want = (self.concrete(s.shape[0]), self.concrete(s.shape[1]))
        if tuple(shape) != want:
            srcs = "; ".join(f"{d.name} = {self.size[d]} from {self.source[d]}"
                             for d in sorted(sympy.Matrix(list(s.shape)).free_symbols, key=lambda d: d.name))
            raise ShapeError(f"check: the value of {s.name!r} is {shape[0]}×{shape[1]}, but {s.name} is "
                             f"{fmt_shape(s.shape)} = {want[0]}×{want[1]}" + (f" ({srcs})" if srcs else ""))

    def default_sizes(self, variant: int = 0) -> bool:
        """Sizes for the dimensions no value fixes: small and distinct; ``variant`` 1, 2, 3 reorders them
        (reversed, descending, ascending) for when the first choice makes a matrix singular (XᵀX with X wide).
        Returns whether this variant is a new assignment."""
        for d in [d for d, src in self.source.items() if src == "default"]:
            del self.size[d], self.source[d]
        open_dims = [d for d in self.dims.values() if d not in self.size]
        used = set(self.size.values())
        free = [n for n in SIZES if n not in used] + list(range(SIZES[-1] + 1, SIZES[-1] + 100))
        sizes = free[:len(open_dims)]
        reordered = [sizes, sizes[::-1], sorted(sizes, reverse=True), sorted(sizes)][variant]
        if variant and reordered in [sizes, sizes[::-1], sorted(sizes, reverse=True), sorted(sizes)][:variant]:
            return False
        for d, n in zip(open_dims, reordered):
            self.size[d], self.source[d] = n, "default"
        return True


# ---- domains: where the formulas may be evaluated -----------------------------------------------------------------
@dataclass(frozen=True)
class _Guard:
    node: Expr  # the op whose argument must lie in the domain
    domain: Domain

    def describe(self) -> str:
        return f"'{self.node}' needs {self.domain.description}"


def _guards(exprs: Sequence[Expr]) -> list[_Guard]:
    """The domain conditions of every op in ``exprs``, read from the ops' specs."""
    out: list[_Guard] = []
    for n in iter_nodes(exprs):
        dom = OPS[n.op].domain_at(n) if n.args else None
        if dom is not None and dom is not EVERYWHERE:
            out.append(_Guard(n, dom))
    return out


def _flags(guards: list[_Guard]) -> dict[Expr, set[str]]:
    """Which symbols sit under which sampling hints (shift, small, spd; positive only for a symbol that is itself
    the argument: log X makes X positive, while log(1 + X²) and √(1 + X²) leave X of both signs)."""
    out: dict[Expr, set[str]] = {}
    for g in guards:
        arg = g.node.args[0]
        direct = arg.args[0] if arg.op == "transpose" else arg
        for s in arg.free_symbols:
            out.setdefault(s, set()).update(h for h in g.domain.hints if h != "positive" or s is direct)
    return out


def _sample(s: Expr, shape: tuple[int, int], flags: set[str], strategy: int, scale: float,
            gen: np.random.Generator) -> np.ndarray:
    """A random generic value. Strategies: 0 by the guards (positive under log/sqrt, a mild diagonal shift √n·I
    under inv/solve/det, which keeps the matrix far from symmetric), 1 plain normal, 2 all positive with a strong
    shift, 3 normal with a strong shift (2√n + 1)·I; under a Cholesky factor (strategies 0, 2, 3) A Aᵀ/n + I,
    symmetric positive definite; the random part is multiplied by ``scale``."""
    r, c = shape
    positive = strategy == 2 or (strategy == 0 and "positive" in flags)
    a = scale * (gen.uniform(0.5, 1.5, shape) if positive else gen.standard_normal(shape))
    if "small" in flags:
        a = 0.3 * a
    if r == c and r > 1:
        if strategy == 0 and "shift" in flags:
            a = a + math.sqrt(r) * np.eye(r)
        elif strategy in (2, 3):
            a = a + (2 * math.sqrt(r) + 1) * np.eye(r)
    if "spd" in flags and r == c and strategy != 1:  # symmetric positive definite, eigenvalues of order 1
        a = a @ a.T / r + np.eye(r)
    if s.symmetric and not s.is_scalar:
        a = (a + a.T) / 2
    return a


def _to_mp(arr: np.ndarray) -> mpmath.matrix:
    m = mpmath.matrix(arr.shape[0], arr.shape[1])
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            v = arr[i, j]
            m[i, j] = mpmath.mpf(int(v)) if isinstance(v, (int, np.integer)) else mpmath.mpmathify(v)
    return m


def _natural(s: Expr, arr: np.ndarray) -> np.ndarray | float:
    """The value in the natural numpy shape of the symbol's kind (a vector of size 1 stays 1-D): n×1 and 1×m
    → 1-D, 1×1 → float, otherwise 2-D."""
    a = np.asarray(arr.astype(float))
    if s.is_scalar:
        return float(a[0, 0])
    if s.shape[1] == ONE or s.shape[0] == ONE:
        return a.ravel()
    return a


def _entries(v: Any) -> list[Any]:
    if isinstance(v, mpmath.matrix):
        return [v[i, j] for i in range(v.rows) for j in range(v.cols)]
    return [v]


def _digits(diff: Any, scale: Any, cap: float) -> float:
    if diff == 0:
        return cap
    if scale == 0:
        return 0.0
    d = -float(mpmath.log10(abs(diff) / scale))
    return round(min(cap, max(0.0, d)), 1)


def _call(fn: Callable[..., Any], vals: list[Any], what: str) -> Any:
    """The generated code on the values; its failure at a bad point (ZeroDivisionError, ValueError) a CheckError."""
    return guarded(f"check: evaluating {what} at the chosen point", fn, *vals)


# ---- the certificate ------------------------------------------------------------------------------------------------
def _is_formula(g: object) -> bool:
    return isinstance(g, (Expr, str, int, float)) and not isinstance(g, bool)


def _grad_kind(grad: object, ws: list[Expr]) -> str:
    """"formula" (expressions or text, one per variable) or "values" (functions or arrays)."""
    items = list(grad) if isinstance(grad, (list, tuple)) else [grad]
    if all(isinstance(g, (Expr, str)) for g in items) or (len(ws) > 1 and all(_is_formula(g) for g in items)):
        return "formula"
    if len(ws) == 1 and _is_formula(grad) and not isinstance(grad, (int, float)):
        return "formula"
    return "values"


def _parse_candidates(grad: object, known: frozenset[Expr]) -> object:
    """Text in the text language becomes an expression; its symbols are the expression's (same shapes)."""
    from ..lang import parse

    def one(g: object) -> object:
        if not isinstance(g, str):
            return g
        used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", g))
        decl = {s.name: s for s in known if s.name in used}
        return parse(g, **decl)
    return [one(g) for g in grad] if isinstance(grad, (list, tuple)) else one(grad)


def check(f: object, wrt: object, at: Mapping[object, object] | None = None, dps: int = 50, rng: int | None = 0,
          seed: object = None, grad: object = None, directions: int = 3, mode: str = "directions",
          strict: bool = False, args: Sequence[object] | None = None, _vjp_call: bool = False, order: int = 1) -> Any:
    """Certify d f/d wrt (or the VJP ⟨seed, f⟩ for matrix-valued f, or the candidate ``grad``) at a point.

    ``wrt``: a symbol, a name, or a list of them. ``seed``: for a matrix-valued f, an expression of f's shape;
    the checked scalar is ⟨seed, f⟩. ``grad``: candidate formulas (one per variable) to certify instead of
    matderiv's own. ``at``: the value of every symbol of f (symbols or names → numbers, lists, arrays; vectors
    1-D or n×1), and optionally sizes of dimensions by name (``{"n": 10}``). Values not given — all of them, or
    those of symbols only in the seed — are random and generic (not symmetric, well-conditioned under
    inv/solve/det, positive under log/sqrt, away from kinks and saturation), drawn from
    ``numpy.random.default_rng(rng)``, which also draws the directions. Dimensions no value fixes get small
    distinct sizes (3, 4, 2, 5, …).
    ``ok`` when mpmath digits ≥ dps − 10 and float64 digits ≥ 8; see the module docstring for the method.

    ``grad`` may also be text in the text language (certified like an expression), or numbers the user
    computed: a numpy function of the inputs (called by keyword when its parameters are the symbols' names, else
    in the order of ``args``), or an array (the gradient at the point ``at``), or a list of them, one per
    variable. Then the report is a :class:`~matderiv.check.compare.GradReport`: the values are compared with
    mpmath differences of f within a tolerance from the float64 round-off of the user's computation;
    ``mode="entries"`` compares every entry, ``strict=True`` fails at kinks too (see matderiv.check.compare).
    ``order=2`` certifies the Hessian md.hessian(f, wrt) instead (:mod:`matderiv.check.second`).
    """
    if order != 1:  # the Hessian md.hessian(f, wrt): matderiv.check.second, which registers itself in SECOND
        return SECOND[0](f, wrt, at=at, dps=dps, rng=rng, directions=directions, order=order, grad=grad, seed=seed, mode=mode, strict=strict, args=args)
    f = as_expr(f, "check: the expression")
    check_options("check", dps, directions, rng)
    if mode not in ("directions", "entries"):
        raise ArgumentError(f"check: mode must be 'directions' or 'entries', got {mode!r}")
    ws = _wrt_list(f, wrt)
    phi, seed_e = _scalar(f, ws, seed)
    values_kind = grad is not None and _grad_kind(grad, ws) == "values"
    if not values_kind and (mode != "directions" or strict):
        raise ArgumentError("check: mode= and strict= apply to gradient values (grad= a function or an array); "
                            "a formula is certified along random directions")
    formulas = [] if values_kind else _formulas(f, ws, seed_e, phi, grad)
    if rng is None:
        rng = int(np.random.SeedSequence().entropy % 2**63)
    syms, dim_syms = _symbols_and_dims([phi, *formulas, *ws])
    point = _Point(syms, dim_syms)
    if at is not None:
        point.bind(at, f.free_symbols)
    given_all = at is not None and all(s in point.values for s in f.free_symbols)
    values, shapes, dim_sizes, gen = _choose_point(syms, dim_syms, point, [phi, *formulas], int(rng),
                                                   kinks_allowed=values_kind and given_all)
    dirs = {w: [_direction(w, shapes[w], values[w], gen) for _ in range(directions)] for w in ws}
    if values_kind:
        return check_values(_title(f, seed_e), _phi_mp(syms, phi, dim_sizes), [s.name for s in syms],
                            {s.name: _nat(s, values[s]) for s in syms}, [w.name for w in ws], grad, dps, mode,
                            strict, _arg_names(args, f), {w.name: [_nat(w, d) for d in dirs[w]] for w in ws}, gen,
                            seed_name=seed_e.name if _vjp_call and seed_e is not None else None,
                            what="vjp" if _vjp_call else "grad", given_at=given_all,
                            phi64=_phi64(syms, phi, dim_sizes), rng=int(rng))
    return _certify(f, ws, formulas, phi, seed_e, syms, values, dirs, dps, int(rng), dim_sizes, grad is not None,
                    directions)


def _scalar(f: Expr, ws: list[Expr], seed: object) -> tuple[Expr, Expr | None]:
    """φ: f itself (a scalar), or ⟨seed, f⟩ for a matrix-valued f; and the seed expression."""
    if seed is None:
        if not f.is_scalar:
            raise DerivativeError(f"check needs a scalar, but {describe(f)} is not; for a matrix-valued expression "
                                  f"give a seed of its shape: md.check(F, {ws[0].name!r}, seed=md.ones_like(F))")
        return f, None
    seed_e = as_expr(seed, "check: seed")
    if seed_e.shape != f.shape:
        raise DerivativeError(f"check: the seed {describe(seed_e)} must have the shape of {describe(f)}")
    for w in ws:
        if w in seed_e.free_symbols:
            raise ArgumentError(f"check: the seed {seed_e} depends on {w.name!r}, but the seed is held "
                                "constant; differentiate with respect to another symbol")
    return sum_(mul(seed_e, f)), seed_e


def _formulas(f: Expr, ws: list[Expr], seed_e: Expr | None, phi: Expr, grad: object) -> list[Expr]:
    """The formulas to certify: the candidates ``grad`` (expressions or text), else matderiv's own."""
    if grad is None:
        return list(_grad(f, ws)) if seed_e is None else list(_vjp(f, ws, seed_e))  # type: ignore[arg-type]
    formulas = _candidates(_parse_candidates(grad, phi.free_symbols), ws)
    known = phi.free_symbols
    for g in formulas:
        unknown = sorted(s.name for s in g.free_symbols - known)
        if unknown:
            raise ArgumentError(f"check: the candidate gradient {describe(g)} uses {', '.join(map(repr, unknown))}, "
                                f"which the expression does not (its symbols: "
                                f"{', '.join(sorted(s.name for s in known))})")
    return formulas


def _choose_point(syms: list[Expr], dim_syms: list[sympy.Symbol], point: _Point, exprs: list[Expr], rng: int,
                  kinks_allowed: bool) -> tuple[dict[Expr, np.ndarray], dict[Expr, tuple[int, int]], dict[str, int],
                                                np.random.Generator]:
    """The values (given or random in the domain), the shapes, the dimension sizes and the generator that drew
    them (it draws the directions next). Another order of the default sizes is tried when the first makes the
    domain empty. ``kinks_allowed``: gradient values at a given point may sit at a kink (one-sided differences)."""
    random_syms = [s for s in syms if s not in point.values]
    failure: CheckError | None = None
    for variant in range(4):
        if not point.default_sizes(variant):
            continue
        shapes = {s: (point.concrete(s.shape[0]), point.concrete(s.shape[1])) for s in syms}
        dim_sizes = {d.name: point.size[d] for d in dim_syms}
        gen = np.random.default_rng(rng)
        guards = [g for g in _guards(exprs) if not (kinks_allowed and g.domain.name == "kink")]
        try:
            return _find_point(syms, shapes, point.values, random_syms, guards, gen, dim_sizes), shapes, dim_sizes, gen
        except CheckError as exc:
            failure = exc
    raise failure  # type: ignore[misc]


def _certify(f: Expr, ws: list[Expr], formulas: list[Expr], phi: Expr, seed_e: Expr | None, syms: list[Expr],
             values: dict[Expr, np.ndarray], dirs: dict[Expr, list[np.ndarray]], dps: int, rng: int,
             dims: dict[str, int], candidate: bool, directions: int) -> CheckReport:
    """The certificate of formulas: mpmath digits and float64 digits (see the module docstring)."""
    digits_m, fd, phis = _mpmath_digits(syms, phi, formulas, ws, values, dirs, dps, dims)
    digits_n: dict[str, float | None] = {}
    numpy_error = _numpy_digits(syms, formulas, ws, values, dirs, fd, phis, digits_n, dims)
    report = CheckReport(ok=False, f=f, wrt=tuple(ws), formulas=tuple(formulas), digits_mpmath=digits_m,
                         digits_numpy=digits_n, dps=dps, rng=rng, dims=dims, seed=seed_e, candidate=candidate,
                         directions=directions, numpy_error=numpy_error,
                         values={s.name: values[s].astype(float) for s in syms})
    report.ok = all(report.passed(w.name) for w in ws)
    return report


def check_vjp(F: object, wrt: object, vjp: object, at: Mapping[object, object] | None = None, dps: int = 50,
              rng: int | None = 0, directions: int = 3, mode: str = "directions", strict: bool = False,
              args: Sequence[object] | None = None, seed: object = None) -> Any:
    """Check the user's VJP of a matrix-valued F: ``vjp(*inputs, seed)`` (inputs as for ``md.check``'s ``grad``,
    the seed last, of F's shape) should return ∂⟨seed, F⟩/∂X (a tuple for several variables).

    The seed is a random matrix (from ``rng``) unless ``seed=`` gives its value (with or without ``at=``); the
    reference is mpmath differences of ⟨seed, F⟩. Returns a :class:`~matderiv.check.compare.GradReport`.
    """
    F = as_expr(F, "check_vjp: the expression")
    if vjp is None or not (callable(vjp) or isinstance(vjp, (list, tuple))):
        raise ArgumentError(f"check_vjp: vjp must be a function vjp(*inputs, seed) (or a list of them, one per "
                            f"variable), got {type(vjp).__name__}")
    used = {s.name for s in F.free_symbols}
    name = next(n for n in ("S", "Seed", *(f"S{k}" for k in range(1, 1000))) if n not in used)
    S = symbol(name, F.shape[0], F.shape[1])
    given = dict(at) if at is not None else None
    if seed is not None:  # the seed's value alone leaves the other values random
        given = {**(given or {}), name: seed}
    return check(F, wrt, at=given, dps=dps, rng=rng, seed=S, grad=vjp, directions=directions, mode=mode,
                 strict=strict, args=args, _vjp_call=True)


def _title(f: Expr, seed: Expr | None) -> str:
    return f"the gradient of {_short(f, 120)}" if seed is None else f"the VJP <{_short(seed, 40)}, {_short(f, 100)}>"


def _nat(s: Expr, arr: np.ndarray) -> np.ndarray:
    """A value in the natural numpy shape as a float array (0-d for a scalar)."""
    return np.asarray(_natural(s, np.asarray(arr, dtype=object) if arr.dtype != object else arr), dtype=float)


def _phi_mp(syms: list[Expr], phi: Expr, dims: dict[str, int]) -> Callable[[list[np.ndarray]], Any]:
    """φ as a function of the natural-shaped object arrays of mpf (the generated mpmath code)."""
    fn = mpmath_function(syms, phi, dims)

    def phi_mp(vals: list[np.ndarray]) -> Any:
        return _call(fn, [np.asarray(v, dtype=object).reshape(-1, 1) if np.ndim(v) == 1 and s.shape[1] == ONE
                          else np.asarray(v, dtype=object).reshape(1, -1) if np.ndim(v) == 1
                          else np.asarray(v, dtype=object).reshape(1, 1) if np.ndim(v) == 0 else v
                          for s, v in zip(syms, vals)], "the expression (mpmath)")
    return phi_mp


def _phi64(syms: list[Expr], phi: Expr, dims: dict[str, int]) -> Callable[[list[np.ndarray]], float] | None:
    """φ in float64 (its numpy code) on the natural-shaped values; None when numpy cannot express it."""
    try:
        fn = lambdify(list(syms), phi)
    except MatderivError:
        return None
    keywords = {d: dims[d] for d in getattr(fn, "dims", ()) if d in dims}

    def phi64(vals: list[np.ndarray]) -> float:
        with np.errstate(all="ignore"):
            return float(fn(*vals, **keywords))
    return phi64


def _arg_names(args: Sequence[object] | None, f: Expr) -> list[str] | None:
    if args is None:
        return None
    if isinstance(args, (str, Expr)) or not isinstance(args, (list, tuple)):
        raise ArgumentError(f"check: args must be a list of symbols or names, got {args!r}")
    out = []
    for a in args:
        if isinstance(a, Expr) and a.is_symbol:
            out.append(a.name)
        elif isinstance(a, str):
            out.append(a)
        else:
            raise ArgumentError(f"check: args must hold symbols or names, got {a!r}")
    return out


def _symbols_and_dims(exprs: list[Expr]) -> tuple[list[Expr], list[sympy.Symbol]]:
    """The symbols and the dimension symbols of ``exprs``, in order of appearance (one shape per name)."""
    syms: list[Expr] = []
    names: dict[str, Expr] = {}
    dims: list[sympy.Symbol] = []
    for n in iter_nodes(exprs):
        if n.is_symbol:
            other = names.setdefault(n.name, n)
            if other != n:
                raise ShapeError(f"check: symbol {n.name!r} is used with two shapes: {describe(n)} and "
                                 f"{describe(other)}")
            if n not in syms:
                syms.append(n)
        sizes = list(n.shape) + [p for p in n.params if n.op == "dimension"]  # a dimension used as a number too
        for d in sizes:
            for s in sorted(sympy.sympify(d).free_symbols, key=lambda s: s.name):
                if s not in dims:
                    dims.append(s)
    return syms, dims


def _mpmath_digits(syms: list[Expr], phi: Expr, formulas: list[Expr], ws: list[Expr],
                   values: dict[Expr, np.ndarray], dirs: dict[Expr, list[np.ndarray]], dps: int,
                   dims: dict[str, int]) -> tuple[dict[str, float], dict[Expr, list[Any]], dict[Expr, list[Any]]]:
    """Digits of ⟨G, D⟩ (mpmath, ``2·dps + 10`` digits) against (φ(x + hD) − φ(x − hD))/2h, h = 10^−(dps+5).

    The central quotient's truncation error is O(h²) = 10^−(2dps+10), so even where ⟨G, D⟩ is 0 and φ curves the
    quotient is below the noise level; its rounding error is 10^−wp/h. Returns the digits per variable, the
    difference quotients and max(|φ(x ± hD)|) (the noise scale).
    """
    phi_fn = mpmath_function(syms, phi, dims)
    grad_fn = mpmath_function(syms, formulas, dims)
    digits: dict[str, float] = {}
    fd: dict[Expr, list[Any]] = {}
    phis: dict[Expr, list[Any]] = {}
    with mpmath.workdps(2 * dps + 10):
        h = mpmath.mpf(10) ** -(dps + 5)
        mp_vals = [_to_mp(values[s]) for s in syms]
        gs = _call(grad_fn, mp_vals, "the derivative formula (mpmath)")
        for k, w in enumerate(ws):
            i = syms.index(w)
            fd[w], phis[w], worst = [], [], float(dps)
            for d in dirs[w]:
                dm = _to_mp(d)
                plus, minus = list(mp_vals), list(mp_vals)
                plus[i], minus[i] = mp_vals[i] + h * dm, mp_vals[i] - h * dm
                fp = _call(phi_fn, plus, "the expression (mpmath)")
                fm = _call(phi_fn, minus, "the expression (mpmath)")
                q = (fp - fm) / (2 * h)
                formula = mpmath.fsum(a * b for a, b in zip(_entries(gs[k]), _entries(dm)))
                tiny = mpmath.mpf(10) ** -15 * max(abs(fp), abs(fm))
                worst = min(worst, _digits(q - formula, max(abs(q), tiny), float(dps)))
                fd[w].append(q)
                phis[w].append(max(abs(fp), abs(fm)))
            digits[w.name] = worst
    return digits, fd, phis


def _direction(w: Expr, shape: tuple[int, int], value: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """A random direction of W's shape (symmetric for a symmetric W), scaled like W's entries."""
    d = random_direction(np.asarray(value, dtype=float).reshape(shape), gen, per_entry=True)
    if w.symmetric and not w.is_scalar:
        d = (d + d.T) / 2
    return d


def _find_point(syms: list[Expr], shapes: dict[Expr, tuple[int, int]], given: dict[Expr, np.ndarray],
                random_syms: list[Expr], guards: list[_Guard], gen: np.random.Generator,
                dims: dict[str, int]) -> dict[Expr, np.ndarray]:
    """Values for every symbol: the given ones, and random ones re-sampled until every domain condition holds."""
    flags = _flags(guards)
    targets = [g.node.args[0] for g in guards]
    fns: dict[int, Callable[..., Any]] = {}

    def failing(vals: dict[Expr, np.ndarray], strict: bool) -> _Guard | None:
        if not guards:
            return None
        with mpmath.workdps(20):
            mp_vals = [_to_mp(vals[s]) for s in syms]
            try:
                if -1 not in fns:
                    fns[-1] = mpmath_function(syms, targets, dims)
                outs = fns[-1](*mp_vals)
            except MatderivError:
                raise
            except Exception:  # the first guard (innermost first) whose argument fails or is outside its domain
                for k, g in enumerate(guards):
                    if k not in fns:
                        fns[k] = mpmath_function(syms, g.node.args[0], dims)
                    try:
                        v = fns[k](*mp_vals)
                    except Exception:
                        return g
                    if not g.domain(v, strict):
                        return g
                return guards[0]  # pragma: no cover - some guard failed above
            for g, v in zip(guards, outs):
                if not g.domain(v, strict):
                    return g
        return None

    if not random_syms:
        vals = dict(given)
        bad = failing(vals, strict=True)
        if bad is not None:
            raise CheckError(f"check: the values given in at are outside the domain: {bad.describe()}")
        return vals
    bad = None
    for t in range(MAX_TRIES):
        vals = dict(given)
        for s in random_syms:
            vals[s] = _sample(s, shapes[s], flags.get(s, set()), t % 4, 0.5 ** (t // 4 % 4), gen).astype(object)
        bad = failing(vals, strict=False)
        if bad is None:
            return vals
    assert bad is not None
    raise CheckError(f"check: no valid random point found in {MAX_TRIES} tries: {bad.describe()}; "
                     "give values with at=")


def _numpy_digits(syms: list[Expr], formulas: list[Expr], ws: list[Expr], values: dict[Expr, np.ndarray],
                  dirs: dict[Expr, list[np.ndarray]], fd: dict[Expr, list[Any]], scale: dict[Expr, list[Any]],
                  out: dict[str, float | None], dims: dict[str, int]) -> str | None:
    """Digits of ⟨G, D⟩ in float64 (the generated numpy function) against the mpmath difference quotients."""
    for w in ws:
        out[w.name] = None
    try:
        fn = lambdify(list(syms), list(formulas))
    except MatderivError as exc:  # a function numpy cannot evaluate (erf, polygamma): mpmath alone certifies
        return f"{NO_NUMPY}: {exc}"
    try:
        with np.errstate(all="ignore"):
            res = fn(*(_natural(s, values[s]) for s in syms), **{d: dims[d] for d in fn.dims})
    except MatderivError:
        raise
    except Exception as exc:  # report, do not hide: the float64 comparison did not run
        return f"{type(exc).__name__}: {exc}"
    if not isinstance(res, tuple):  # pragma: no cover - a list of expressions gives a tuple
        res = (res,)
    for k, w in enumerate(ws):
        g = np.asarray(res[k], dtype=float)
        worst = NUMPY_CAP
        for d, q, p in zip(dirs[w], fd[w], scale[w]):
            if g.size != d.size:
                return f"the numpy gradient for {w.name!r} has shape {g.shape}, expected {d.shape}"
            formula = float(np.sum(g.reshape(d.shape) * d))
            qf = float(q)
            tiny = 1e-8 * float(p)
            diff = qf - formula if np.isfinite(formula) else float("inf")
            worst = min(worst, _digits(mpmath.mpf(diff), max(abs(qf), tiny), NUMPY_CAP)
                        if np.isfinite(diff) else 0.0)
        out[w.name] = worst
    return None
