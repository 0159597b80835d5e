"""Elementwise ops: sums, Hadamard products, powers and functions f(X) (numpy broadcasting; a 1×1 operand scales).

References: Petersen & Pedersen, *The Matrix Cookbook* (2012), equation numbers (C·).
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import mpmath
import sympy

from ..core.domains import NONZERO_ENTRIES, POSITIVE, Domain
from ..core.errors import ArgumentError, ShapeError
from ..core.expr import OPS, Expr, describe
from ..core.functions import BY_BODY, NAMED, Fn, domain_of, make_fn, number, x
from ..core.spec import defop, node
from .base import as_expr, broadcast, const, elementwise_shape, flat, is_number, ones, same

__all__ = ["add", "mul", "neg", "divide", "power", "apply", "elementwise", "to_expr", "reduce_to"]
#: The names the package exports (``md.<name>``; a trailing ``_`` is dropped: ``sum_`` is ``md.sum``).
PUBLIC = ("add", "mul", "divide", "power", "apply", "elementwise", "exp", "log", "sin", "cos", "tan", "tanh", "sqrt",
          "abs_", "sign", "relu", "sigmoid", "softplus", "step")


def reduce_to(arg: Expr, out: Expr, ct: Expr) -> Expr:
    """The cotangent of a broadcast scalar argument: the sum of the cotangent."""
    return OPS["sum"].make([ct]) if arg.is_scalar and not out.is_scalar else ct  # sum's block is in reductions


# ---- add -----------------------------------------------------------------------------------------------------
def _add_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, Σ Aⱼ⟩/∂Aᵢ = G (summed over broadcast axes)."""
    return reduce_to(out.args[i], out, g)


def _add_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Sum rule: d(A + B) = dA + dB (C 35); a broadcast scalar s spreads: d(s𝟏𝟏ᵀ) = ds 𝟏𝟏ᵀ."""
    ts = [t for t in tangents if t is not None]
    if not ts:
        return None
    total = add(*ts)
    return total if total.shape == out.shape else mul(total, ones(*out.shape))


def _build_add(args: Sequence[Expr], params: tuple[Any, ...] = ()) -> Expr:
    xs, _ = broadcast(flat("add", args), "+")
    return xs[0] if len(xs) == 1 else node("add", xs)


def _add_sympy(conv: Any, e: Expr, *terms: Any) -> Any:
    if not any(conv.is_matrix(t) for t in terms):
        return sympy.Add(*terms)
    shape = conv.shape(e)
    return sympy.MatAdd(*[t if conv.is_matrix(t) and t.shape == shape else conv.full(t, shape) for t in terms])


def _add(*xs: Any) -> Any:
    """A + B + ..., a 1x1 term broadcast over the full shape."""
    r, c = _full(xs)
    out = mpmath.zeros(r, c)
    for v in xs:
        if (v.rows, v.cols) == (r, c):
            out += v
        else:
            s = v[0, 0]
            for i in range(r):
                for j in range(c):
                    out[i, j] += s
    return out


def _full(xs: Any) -> Any:
    for v in xs:
        if (v.rows, v.cols) != (1, 1):
            return v.rows, v.cols
    return 1, 1


defop("add", elementwise_shape, vjp=_add_vjp, jvp=_add_jvp, build=_build_add, linear=True, transpose="elementwise",
      sympy=_add_sympy, mpmath=_add)


def add(*terms: object) -> Expr:
    """A + B + ⋯ (numpy broadcasting)."""
    return _build_add([as_expr(t) for t in terms])


# ---- mul (Hadamard product, with scalar factors) -----------------------------------------------------------
def _mul_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, A₁ ⊙ ⋯ ⊙ A_k⟩/∂Aᵢ = G ⊙ ∏_{j≠i} Aⱼ (C 2.8; summed when Aᵢ is a broadcast scalar)."""
    others = out.args[:i] + out.args[i + 1:]
    return reduce_to(out.args[i], out, mul(g, *others))


def _build_mul(args: Sequence[Expr], params: tuple[Any, ...] = ()) -> Expr:
    xs, _ = broadcast(flat("mul", args), "*")
    return xs[0] if len(xs) == 1 else node("mul", xs)


def _mul_sympy(conv: Any, e: Expr, *factors: Any) -> Any:
    """Full-shape factors ⊙ (1×1 matrices among 1×1 ones, too); scalars scale. A 1×1 matrix s scaling a
    product A B joins the chain where a dimension is 1 (A s B for a column A), else it scales as tr(s)."""
    scalars, units, mats = [], [], []
    for a, f in zip(e.args, factors):
        if not conv.is_matrix(f):
            scalars.append(f)
        elif not a.is_scalar or e.is_scalar:
            mats.append(f)
        else:
            units.append(f)
    if not mats:
        return sympy.Mul(*scalars)
    m = mats[0] if len(mats) == 1 else sympy.HadamardProduct(*mats)
    chain = [m]
    if isinstance(m, sympy.MatMul):
        scalars.extend(f for f in m.args if not conv.is_matrix(f))
        chain = [f for f in m.args if conv.is_matrix(f)]
    cut = next((i for i in range(len(chain) + 1)
                if (chain[i - 1].shape[1] if i else chain[0].shape[0]) == 1), None)
    if cut is None:
        scalars.extend(sympy.Trace(u) for u in units)
    else:
        chain[cut:cut] = units
    coeff = sympy.Mul(*scalars)
    if coeff != 1:
        chain.insert(0, coeff)
    return chain[0] if len(chain) == 1 else sympy.MatMul(*chain)


def _mul(*xs: Any) -> Any:
    """A * B * ... elementwise (Hadamard), a 1x1 factor scales."""
    r, c = _full(xs)
    out = mpmath.ones(r, c)
    for v in xs:
        if (v.rows, v.cols) == (r, c):
            for i in range(r):
                for j in range(c):
                    out[i, j] *= v[i, j]
        else:
            out *= v[0, 0]
    return out


def _mul_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Product rule for ⊙: d(A ⊙ B) = dA ⊙ B + A ⊙ dB (C 38; a 1×1 factor scales)."""
    a = out.args
    parts = [mul(*a[:i], t, *a[i + 1:]) for i, t in enumerate(tangents) if t is not None]
    return add(*parts) if parts else None


defop("mul", elementwise_shape, vjp=_mul_vjp, jvp=_mul_jvp, build=_build_mul, transpose="elementwise", sympy=_mul_sympy,
      mpmath=_mul)


def mul(*factors: object) -> Expr:
    """A ⊙ B ⊙ ⋯, elementwise (numpy's ``*``); a 1×1 factor scales."""
    return _build_mul([as_expr(f) for f in factors])


def neg(a: object) -> Expr:
    return mul(-1, a)


def divide(a: object, b: object) -> Expr:
    """A / B elementwise: A ⊙ B^{∘−1}."""
    return mul(a, power(b, -1))


# ---- power (elementwise, numeric exponent) ---------------------------------------------------------------
def _power_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, X^{∘p}⟩/∂X = p G ⊙ X^{∘(p−1)}."""
    (xx,), (p,) = out.args, out.params
    return mul(p, g) if p == 1 else mul(p, g, power(xx, p - 1))


def _power_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Power rule: d(X^{∘p}) = p X^{∘(p−1)} ⊙ dX (C 38 applied entrywise)."""
    (t,), (xx,), (p,) = tangents, out.args, out.params
    return None if t is None else mul(p, t) if p == 1 else mul(p, power(xx, p - 1), t)


def _power_domain(e: Expr) -> Domain | None:
    """Fractional powers need positive entries, negative ones nonzero entries."""
    p = e.params[0]
    return POSITIVE if not float(p).is_integer() else NONZERO_ENTRIES if p < 0 else None


def _power_sympy(conv: Any, e: Expr, a: Any) -> Any:
    """A^{∘p}; of a 1×1 matrix, SymPy's matrix power (the same there)."""
    p = conv.number(e.params[0])
    if not conv.is_matrix(a):
        return sympy.Pow(a, p)
    return sympy.MatPow(a, p) if e.is_scalar else sympy.HadamardPower(a, p)


def _pow(v: Any, p: Any) -> Any:
    return v.apply(lambda e: e ** p)


defop("power", same, vjp=_power_vjp, jvp=_power_jvp, transpose="elementwise", domain=_power_domain, sympy=_power_sympy,
      mpmath=_pow)


def power(a: object, p: object) -> Expr:
    """A^{∘p} elementwise; a scalar expression as exponent gives exp(p log A)."""
    a = as_expr(a, "base of '**'")
    if isinstance(p, Expr):
        if not p.is_scalar:
            raise ShapeError(f"the exponent of '**' must be a scalar, got {describe(p)}")
        if is_number(p):
            p = p.params[0]
        else:
            return apply("exp", mul(p, apply("log", a)))
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise ArgumentError(f"the exponent of '**' must be a number or a scalar expression, got {p!r}")
    p = const(p).params[0]
    return node("power", (a,), (p,))


# ---- elementwise functions ----------------------------------------------------------------------------------
def _apply_vjp(g: Expr, out: Expr, i: int) -> Expr:
    """∂⟨G, f(X)⟩/∂X = G ⊙ f'(X), with f' from SymPy."""
    fn: Fn = out.params[0]
    return mul(g, to_expr(fn.derivative(), out.args[0], fn.name + "_prime"))


def _apply_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Chain rule, entrywise: d f(X) = f'(X) ⊙ dX, with f' from SymPy."""
    (t,) = tangents
    if t is None:
        return None
    fn: Fn = out.params[0]
    return mul(to_expr(fn.derivative(), out.args[0], fn.name + "_prime"), t)


def _apply_sympy(conv: Any, e: Expr, a: Any) -> Any:
    fn: Fn = e.params[0]
    if conv.is_matrix(a):
        d = sympy.Dummy("d")
        return sympy.matrices.expressions.applyfunc.ElementwiseApplyFunction(
            sympy.Lambda(d, fn.body.xreplace({x: d})), a)
    return fn.body.xreplace({x: a})


def _map(v: Any, f: Callable[[Any], Any]) -> Any:
    return v.apply(f)


defop("apply", same, vjp=_apply_vjp, jvp=_apply_jvp, transpose="elementwise", domain=lambda e: e.params[0].domain,
      sympy=_apply_sympy, mpmath=_map)


def apply(fn: Fn | str, a: object) -> Expr:
    """f(A) elementwise, for a named function (``"exp"``) or an :class:`Fn`."""
    if isinstance(fn, str):
        if fn not in NAMED:
            raise ArgumentError(f"unknown elementwise function {fn!r}; known: {', '.join(sorted(NAMED))}")
        fn = NAMED[fn]
    return node("apply", (as_expr(a, f"argument of {fn.name}"),), (fn,))


def elementwise(name: str, f: sympy.Expr | Callable[[sympy.Symbol], sympy.Expr]) -> Callable[[object], Expr]:
    """A user's elementwise function from a SymPy expression or a lambda of one SymPy symbol."""
    fn = make_fn(name, f)
    return lambda a: apply(fn, a)


def to_expr(s: sympy.Expr, arg: Expr, name: str) -> Expr:
    """The matderiv expression of the SymPy scalar expression ``s`` with ``x`` replaced by ``arg``, elementwise.

    Known functions, sums, products and rational powers become matderiv operations; any other part of ``s`` —
    an unknown function, or a term with an irrational number such as 2/√π, which a float would round — becomes
    a new elementwise function named after what it computes: ``name`` when it is all of ``s`` (``gelu_prime``
    is gelu′), ``F`` for F(x) (or F(k, x), k a number), ``F_scaled`` for F(c·x) and ``F_composed`` for F of another expression
    (``erf_scaled`` is erf(x/√2)), ``name_part`` for any other part of ``s``; repeated names are numbered
    (``name_part2``), one name per distinct part.
    """
    names: dict[sympy.Expr, str] = {}
    whole = sympy.sympify(s)

    def own_name(e: sympy.Expr) -> str:
        if e == whole:
            return name
        inner = [a for a in e.args if not a.is_number] if e.is_Function else []
        head = e.func.__name__ if len(inner) == 1 else ""  # polygamma(0, x) is a function of x alone
        if head.isidentifier() and not head.startswith("_"):
            (u,) = inner
            if u == x:
                return head  # erf(x) is called erf
            scale = sympy.simplify(u / x)
            return f"{head}_scaled" if scale.is_number else f"{head}_composed"
        return f"{name}_part"

    def unknown(e: sympy.Expr) -> Expr:
        if e not in names:
            base = own_name(e)
            made = sum(v == base or v.startswith(base) and v[len(base):].isdigit() for v in names.values())
            names[e] = base if not made else f"{base}{made + 1}"
        return apply(Fn(names[e], e, domain_of(e)), arg)

    def go(e: sympy.Expr) -> Expr:
        if e == x:
            return arg
        if e.is_Rational or e.is_Float:
            return const(number(e))
        if e.is_number:  # π, √2, e: exact only inside a SymPy body
            return unknown(e)
        if e.is_Add:
            return add(*map(go, e.args))
        if e.is_Mul:
            if any(a.is_number and not (a.is_Rational or a.is_Float) for a in e.args):
                return unknown(e)
            return mul(*map(go, e.args))
        if e.is_Pow and e.exp.is_Rational and e.base.has(x):
            if abs(e.exp) == sympy.S.Half:  # x^{±1/2} = sqrt(x)^{±1}
                root = apply(NAMED["sqrt"], go(e.base))
                return root if e.exp > 0 else power(root, -1)
            return power(go(e.base), number(e.exp))
        if e.is_Function and len(e.args) == 1:
            fn = BY_BODY.get(e.func(x))
            if fn is not None:
                return apply(fn, go(e.args[0]))
        return unknown(e)

    return go(whole)


def _named(name: str) -> Callable[[object], Expr]:
    def f(a: object) -> Expr:
        return apply(name, a)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"{name}(A), elementwise."
    return f


exp, log, sin, cos, tan, tanh, sqrt, abs_, sign, relu, sigmoid, softplus, step = (
    _named(n) for n in ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "sign", "relu", "sigmoid",
                        "softplus", "step"))


def _register_functions() -> None:
    """The named elementwise functions are functions of the text language: exp(X), sigmoid(X), ..."""
    from functools import partial

    from ..core.spec import deffunction
    for name in NAMED:
        deffunction(name, 1, same, partial(apply, name), doc=f"{name}, elementwise")


_register_functions()
