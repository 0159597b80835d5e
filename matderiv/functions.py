"""Elementwise scalar functions, held as SymPy expressions of one real variable ``x``.

SymPy gives their derivatives and prints them (numpy, mpmath, LaTeX); :func:`to_expr` turns a SymPy derivative
back into matderiv operations so that d/dX sin(X) = cos(X) and σ' = σ ⊙ (1 − σ) print as a textbook would.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

import sympy

from .errors import ArgumentError, DerivativeError

if TYPE_CHECKING:  # pragma: no cover
    from .expr import Expr

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
    """An elementwise function: a name and a SymPy body in the variable :data:`x`.

    ``domain`` guides the certificate's choice of points: ``"positive"`` (log, sqrt), ``"kink"`` (keep away
    from 0: abs, relu, sign, step), ``"bounded"`` (tan: keep |x| < 1) or ``""``.
    """

    name: str
    body: sympy.Expr
    domain: str = ""

    def derivative(self) -> sympy.Expr:
        """d body / dx, with Dirac deltas (derivatives of steps) set to 0: the almost-everywhere derivative."""
        return _derivative(self.name, self.body)


@lru_cache(maxsize=1024)
def _derivative(name: str, body: sympy.Expr) -> sympy.Expr:
    d = sympy.diff(body, x)
    if d.has(sympy.DiracDelta):
        d = d.replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.Integer(0))
    if d.has(sympy.Derivative) or d.has(sympy.Subs):
        raise DerivativeError(f"SymPy cannot differentiate the elementwise function {name!r} "
                              f"(x ↦ {body}): it returned {d}")
    return d


_BODIES: dict[str, tuple[sympy.Expr, str]] = {
    "exp": (sympy.exp(x), ""), "log": (sympy.log(x), "positive"), "sin": (sympy.sin(x), ""),
    "cos": (sympy.cos(x), ""), "tan": (sympy.tan(x), "bounded"), "tanh": (sympy.tanh(x), ""),
    "sqrt": (sympy.sqrt(x), "positive"), "abs": (sympy.Abs(x), "kink"), "sign": (sympy.sign(x), "kink"),
    "relu": (relu(x), "kink"), "sigmoid": (sigmoid(x), ""), "softplus": (softplus(x), ""),
    "step": (step(x), "kink"),
}
NAMED: dict[str, Fn] = {name: Fn(name, body, dom) for name, (body, dom) in _BODIES.items()}
_BY_BODY: dict[sympy.Expr, Fn] = {fn.body: fn for fn in NAMED.values()}


def make_fn(name: str, f: sympy.Expr | Callable[[sympy.Symbol], sympy.Expr]) -> Fn:
    """A user's elementwise function from a SymPy expression of one symbol, or a lambda of one SymPy symbol."""
    from .expr import check_name
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
    if body in _BY_BODY:
        return _BY_BODY[body]
    if name in NAMED:
        raise ArgumentError(f"elementwise function {name!r} is a built-in function with another body; choose another "
                            "name")
    dom = "positive" if body.has(sympy.log) or any(p.exp.is_Rational and not p.exp.is_Integer
                                                   for p in body.atoms(sympy.Pow)) else ""
    return Fn(name, body, dom)


def to_expr(s: sympy.Expr, arg: Expr, name: str) -> Expr:
    """The matderiv expression of the SymPy scalar expression ``s`` with ``x`` replaced by ``arg``, elementwise.

    Known functions, sums, products and rational powers become matderiv operations; any other part of ``s`` —
    an unknown function, or a term with an irrational number such as 2/√π, which a float would round — becomes
    a new elementwise function named ``name``, ``name2``, … (one name per distinct part).
    """
    from . import ops
    names: dict[sympy.Expr, str] = {}

    def unknown(e: sympy.Expr) -> Expr:
        own = e.func.__name__ if e.is_Function and e.args == (x,) else ""  # erf(x) is called erf
        if e not in names:
            made = sum(v == name or v.startswith(name) and v[len(name):].isdigit() for v in names.values())
            names[e] = own if own.isidentifier() and not own.startswith("_") else (
                name if not made else f"{name}{made + 1}")
        return ops.apply(Fn(names[e], e, ""), arg)

    def go(e: sympy.Expr) -> Expr:
        if e == x:
            return arg
        if e.is_Rational or e.is_Float:
            return ops.const(_number(e))
        if e.is_number:  # π, √2, e: exact only inside a SymPy body
            return unknown(e)
        if e.is_Add:
            return ops.add(*map(go, e.args))
        if e.is_Mul:
            if any(a.is_number and not (a.is_Rational or a.is_Float) for a in e.args):
                return unknown(e)
            return ops.mul(*map(go, e.args))
        if e.is_Pow and e.exp.is_Rational and e.base.has(x):
            if abs(e.exp) == sympy.S.Half:  # x^{±1/2} = sqrt(x)^{±1}
                root = ops.apply(NAMED["sqrt"], go(e.base))
                return root if e.exp > 0 else ops.power(root, -1)
            return ops.power(go(e.base), _number(e.exp))
        if e.is_Function and len(e.args) == 1:
            fn = _BY_BODY.get(e.func(x))
            if fn is not None:
                return ops.apply(fn, go(e.args[0]))
        return unknown(e)

    return go(sympy.sympify(s))


def _number(n: sympy.Expr) -> int | float | Fraction:
    """A real SymPy number as an int, an exact Fraction (rationals) or a float."""
    if not n.is_real:
        raise DerivativeError(f"the number {n} is not real")
    if n.is_Integer:
        return int(n)
    if n.is_Rational:
        return Fraction(int(n.p), int(n.q))
    return float(n)
