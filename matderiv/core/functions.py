"""Elementwise scalar functions, held as SymPy expressions of one real variable ``x``.

SymPy gives their derivatives, their domains and prints them (numpy, mpmath, LaTeX);
:func:`matderiv.ops.elementwise.to_expr` turns a SymPy derivative back into matderiv operations so that
d/dX sin(X) = cos(X) and σ' = σ ⊙ (1 − σ) print as a textbook would.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable

import sympy

from .dims import check_name
from .domains import BOUNDED, EVERYWHERE, KINK, MODERATE, NONZERO_ENTRIES, POSITIVE, Domain
from .errors import ArgumentError, DerivativeError

x = sympy.Symbol("x", real=True)


class sigmoid(sympy.Function):
    """σ(x) = 1/(1 + e^{−x}); σ' = σ(1 − σ)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return 1 / (1 + sympy.exp(-arg)) if arg.is_Number else None

    def _eval_rewrite_as_exp(self, arg: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-arg))

    def _numpycode(self, printer: Any) -> str:
        t = printer._module_format("numpy.tanh")
        return f"(0.5 + 0.5*{t}(0.5*{printer._print(self.args[0])}))"

    def _mpmathcode(self, printer: Any) -> str:
        return f"(1/(1 + {printer._module_format('mpmath.exp')}(-({printer._print(self.args[0])}))))"

    def _latex(self, printer: Any) -> str:
        return rf"\sigma\left({printer._print(self.args[0])}\right)"


class relu(sympy.Function):
    """relu(x) = max(x, 0); relu' = step (Heaviside, 0 at the kink as in torch)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return step(self.args[0])

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.Max(arg, 0) if arg.is_Number else None

    def _numpycode(self, printer: Any) -> str:
        return f"{printer._module_format('numpy.maximum')}({printer._print(self.args[0])}, 0.0)"

    def _mpmathcode(self, printer: Any) -> str:
        return f"max({printer._print(self.args[0])}, 0)"

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{relu}}\left({printer._print(self.args[0])}\right)"


class step(sympy.Function):
    """step(x) = 1 for x > 0 else 0; its derivative is 0 almost everywhere."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.Integer(0)

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return (sympy.Integer(1) if arg > 0 else sympy.Integer(0)) if arg.is_Number else None

    def _numpycode(self, printer: Any) -> str:
        return f"{printer._module_format('numpy.heaviside')}({printer._print(self.args[0])}, 0.0)"

    def _mpmathcode(self, printer: Any) -> str:
        return f"(1 if ({printer._print(self.args[0])}) > 0 else 0)"

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{step}}\left({printer._print(self.args[0])}\right)"


class softplus(sympy.Function):
    """softplus(x) = log(1 + e^x); softplus' = σ."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.log(1 + sympy.exp(arg)) if arg.is_Number else None

    def _numpycode(self, printer: Any) -> str:
        return f"{printer._module_format('numpy.logaddexp')}(0.0, {printer._print(self.args[0])})"

    def _mpmathcode(self, printer: Any) -> str:
        return f"{printer._module_format('mpmath.log1p')}({printer._module_format('mpmath.exp')}({printer._print(self.args[0])}))"

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"


@dataclass(frozen=True)
class Fn:
    """An elementwise function: a name, a SymPy body in the variable :data:`x`, and the domain where it is
    defined and differentiable (the certificate draws its points there)."""

    name: str
    body: sympy.Expr
    domain: Domain = EVERYWHERE

    def derivative(self) -> sympy.Expr:
        """d body / dx, with Dirac deltas (derivatives of steps) set to 0: the almost-everywhere derivative."""
        return _derivative(self.name, self.body)


@lru_cache(maxsize=1024)
def _derivative(name: str, body: sympy.Expr) -> sympy.Expr:
    d = sympy.diff(body, x)
    for p in d.atoms(sympy.Pow):  # sinh u / cosh u = tanh u: finite where both overflow (d/dx log cosh x at 800)
        if p.exp == -1 and isinstance(p.base, sympy.cosh):
            u = p.base.args[0]
            d = d.subs(sympy.sinh(u), sympy.tanh(u) * sympy.cosh(u))
    if d.has(sympy.DiracDelta):
        d = d.replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.Integer(0))
    if d.has(sympy.Derivative) or d.has(sympy.Subs):
        raise DerivativeError(f"SymPy cannot differentiate the elementwise function {name!r} "
                              f"(x ↦ {body}): it returned {d}")
    return d


_BODIES: dict[str, tuple[sympy.Expr, Domain]] = {
    "exp": (sympy.exp(x), EVERYWHERE), "log": (sympy.log(x), POSITIVE), "sin": (sympy.sin(x), EVERYWHERE),
    "cos": (sympy.cos(x), EVERYWHERE), "tan": (sympy.tan(x), BOUNDED), "tanh": (sympy.tanh(x), MODERATE),
    "sqrt": (sympy.sqrt(x), POSITIVE), "abs": (sympy.Abs(x), KINK), "sign": (sympy.sign(x), KINK),
    "relu": (relu(x), KINK), "sigmoid": (sigmoid(x), MODERATE), "softplus": (softplus(x), EVERYWHERE),
    "step": (step(x), KINK),
}
NAMED: dict[str, Fn] = {name: Fn(name, body, dom) for name, (body, dom) in _BODIES.items()}
BY_BODY: dict[sympy.Expr, Fn] = {fn.body: fn for fn in NAMED.values()}
_KINKS = (sympy.Abs, sympy.sign, sympy.Heaviside, sympy.Max, sympy.Min, relu, step)


def make_fn(name: str, f: sympy.Expr | Callable[[sympy.Symbol], sympy.Expr]) -> Fn:
    """A user's elementwise function from a SymPy expression of one symbol, or a lambda of one SymPy symbol."""
    check_name(name, "function")
    if callable(f) and not isinstance(f, sympy.Basic):
        try:
            body = sympy.sympify(f(x))
        except Exception as exc:  # a user's lambda can raise anything
            raise ArgumentError(f"elementwise function {name!r}: calling it on a SymPy symbol failed: {exc}") from exc
    elif isinstance(f, sympy.Basic):
        free = f.free_symbols
        if len(free) > 1:
            raise ArgumentError(f"elementwise function {name!r} must depend on one symbol, got {sorted(map(str, free))}")
        body = f.xreplace({s: x for s in free})
    else:
        raise ArgumentError(f"elementwise function {name!r} needs a SymPy expression or a lambda, got {f!r}")
    if not isinstance(body, sympy.Expr) or getattr(body, "is_Matrix", False) or body.free_symbols - {x}:
        raise ArgumentError(f"elementwise function {name!r} must be a scalar expression of one symbol, got {body}")
    if body in BY_BODY:
        return BY_BODY[body]
    if name in NAMED:
        raise ArgumentError(f"elementwise function {name!r} is a built-in function with another body; choose another "
                            "name")
    return Fn(name, body, domain_of(body))


_SMOOTH_BOUNDED = (sympy.erf, sympy.erfc, sympy.erfi, sympy.Si, sympy.fresnels, sympy.fresnelc)
_NONZERO = sympy.Union(sympy.Interval.open(-sympy.oo, 0), sympy.Interval.open(0, sympy.oo))
#: The domains a function may have, widest first, each with its region of the real line.
_CANDIDATES: tuple[tuple[Domain, sympy.Set], ...] = (
    (EVERYWHERE, sympy.S.Reals), (NONZERO_ENTRIES, _NONZERO), (BOUNDED, sympy.Interval.open(-1, 1)),
    (POSITIVE, sympy.Interval.open(0, sympy.oo)))


@lru_cache(maxsize=1024)
def domain_of(body: sympy.Expr) -> Domain:
    """Where x ↦ body is defined and smooth, from the function itself: the widest of all reals, x ≠ 0, |x| < 1
    and x > 0 that avoids the points where SymPy's ``continuous_domain`` of the body or of its derivative fails
    and where a fractional power's base is not positive. So √(1+x²) − 1 and log cosh x are defined everywhere,
    1/x away from 0, tan and log(1 + x) on |x| < 1, log x and √x for x > 0; kinks (|x|, relu, sign) are kept
    away from. SymPy's domain finder does not know erf and its kin: they are smooth and bounded on ℝ, as tanh
    is, so the question is asked of the body with tanh in their place. Where SymPy still cannot decide
    (gamma, polygamma), x > 0: the cautious choice."""
    if body.has(*_KINKS):
        return KINK
    try:
        from sympy.calculus.util import continuous_domain
        like = body.replace(lambda e: isinstance(e, _SMOOTH_BOUNDED), lambda e: sympy.tanh(e.args[0]))
        holes = [_outside(continuous_domain(f, x, sympy.S.Reals)) for f in (like, sympy.diff(like, x))]
        for p in body.atoms(sympy.Pow):
            if p.exp.is_number and not p.exp.is_integer and p.base.has(x):
                holes.append(_outside(sympy.solveset(p.base > 0, x, sympy.S.Reals)))
        missing: sympy.Set | None = sympy.Union(*holes)
    except Exception:  # NotImplementedError ("unable to determine the domain") and SymPy's other failures
        missing = None
    for dom, region in _CANDIDATES:
        if missing is not None and _avoids(missing, region):
            return dom
    return POSITIVE


def _outside(where: sympy.Set) -> sympy.Set:
    """The reals not in ``where`` (Complement(ℝ, ℝ ∖ U) is U, which SymPy leaves unsimplified)."""
    if isinstance(where, sympy.Complement) and where.args[0] == sympy.S.Reals:
        return where.args[1]
    return sympy.Complement(sympy.S.Reals, where)


def _avoids(missing: sympy.Set, region: sympy.Set) -> bool | None:
    """Whether no point of ``missing`` lies in ``region`` (None: undecided)."""
    decided = sympy.Intersection(missing, region).is_empty
    if decided is not None:
        return bool(decided)
    points: list[sympy.Expr] = []
    for part in (missing.args if isinstance(missing, sympy.Union) else (missing,)):
        if part.is_FiniteSet:
            points.extend(part.args)
        elif isinstance(part, sympy.ImageSet) and part.base_sets == (sympy.S.Integers,):
            points.extend(part.lamda(n) for n in range(-50, 51))  # poles of tan, ... near the region
        else:
            return None
    return not any(region.contains(p) == sympy.true for p in points)


def number(n: sympy.Expr) -> int | float | Fraction:
    """A real SymPy number as an int, an exact Fraction (rationals) or a float."""
    if not n.is_real:
        raise DerivativeError(f"the number {n} is not real")
    if n.is_Integer:
        return int(n)
    if n.is_Rational:
        return Fraction(int(n.p), int(n.q))
    return float(n)
