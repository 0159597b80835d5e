"""Numerically stable forms, applied to what the generated numpy code computes (never to what is printed).

The textbook forms a derivation prints — log(1 + eᶻ), log σ(z), 1 − σ(z), exp(z)/(1 + exp(z)) — overflow or
cancel in float64 where the mathematics is finite (at logits of ±1000, log(1 + e¹⁰⁰⁰) is inf, 1 − σ(40) is 0
instead of 4·10⁻¹⁸). The rules below rewrite them, bottom-up, into forms whose numpy emitters are stable
(softplus is ``np.logaddexp(0, z)``, σ is t/(1 + t) with t = e^{min(z, 709)}, logsumexp and softmax are shifted by
their maximum). Why here and not in the simplifier: the LaTeX and text a paper prints keep the textbook forms
(d/dz log σ(z) = 1 − σ(z) is the familiar one); only the code that evaluates them changes. The identities
that are also the canonical textbook form (e^u/(1 + e^u) = σ(u), log softmax z = z − logsumexp z) live in the
simplifier or in the op's block and are applied here too, so that an expression lambdified without
simplification is evaluated stably as well.

Each rule is a pure function Expr → Expr returning its input unchanged when it does not apply; its docstring
states its identity.
"""
from __future__ import annotations

from typing import Callable

import sympy

from ..core.expr import Expr
from ..core.functions import Fn
from ..core.functions import x as _x
from ..core.spec import RULES as SPEC_RULES
from ..ops import add, apply, logsumexp, mul, neg, softmax
from ..simplify import (bottom_up, do_one, is_fn, mul_exp_sigmoid, mul_numbers, mul_one_plus_exp_over_exp, negate,
                        one_minus, one_plus, power_logistic, power_trivial)

Rule = Callable[[Expr], Expr]
#: sech² u = 1 − tanh² u, which the numpy printer emits as 4t/(1 + t)² with t = e^{−2|u|} (never overflows, and
#: keeps its digits where 1 − tanh²(30) is 0 in float64); only the generated code uses it.
SECH2 = Fn("sech2", 1 / sympy.cosh(_x) ** 2)


def _minus(u: Expr) -> Expr:
    """−u; a sum stays whole (−(a + b), not −a − b), so that σ(a + b) and σ(−(a + b)) share a + b."""
    return neg(u) if u.op == "add" else negate(u)


def log_one_plus_exp(e: Expr) -> Expr:
    """log(1 + e^u) = softplus(u) (``np.logaddexp(0, u)``: finite at u = 1000, exact at u = −1000)."""
    if not is_fn(e, "log"):
        return e
    u = one_plus(e.args[0], "exp", ones=True)
    return e if u is None or u.shape != e.shape else apply("softplus", u)


def _one_minus_sigmoid(a: Expr) -> Expr | None:
    """u when ``a`` is 1 − σ(u) (1 a number or ones), else None."""
    m = one_minus(a, lambda t: is_fn(t, "sigmoid"), ones=True)
    return m[0].args[0] if m is not None and not m[1] else None


def log_sigmoid(e: Expr) -> Expr:
    """log σ(u) = −softplus(−u); log(1 − σ(u)) = log σ(−u) = −softplus(u); log(s^{∘k}) = k log s for s = σ(u) or
    1 − σ(u) (s > 0): log σ(u)² = −2 softplus(−u)."""
    if not is_fn(e, "log"):
        return e
    a, k = (e.args[0].args[0], e.args[0].params[0]) if e.args[0].op == "power" else (e.args[0], 1)
    if is_fn(a, "sigmoid"):
        out = neg(apply("softplus", _minus(a.args[0])))
    else:
        u = _one_minus_sigmoid(a)
        if u is None or u.shape != e.shape:
            return e
        out = neg(apply("softplus", u))
    return out if k == 1 else mul(k, out)


def log_sum_exp(e: Expr) -> Expr:
    """log Σ exp(u) = logsumexp(u), shifted by the maximum (no overflow)."""
    if not is_fn(e, "log") or e.args[0].op != "sum" or not is_fn(e.args[0].args[0], "exp"):
        return e
    return logsumexp(e.args[0].args[0].args[0])


def one_minus_sigmoid(e: Expr) -> Expr:
    """1 − σ(u) = σ(−u), without the cancellation (1 − σ(40) is 0 in float64, σ(−40) is 4.2·10⁻¹⁸)."""
    m = one_minus(e, lambda t: is_fn(t, "sigmoid"), ones=True)
    if m is None:
        return e
    t, others = m
    return add(apply("sigmoid", _minus(t.args[0])), *others)


def one_minus_tanh_squared(e: Expr) -> Expr:
    """1 − tanh²(u) = sech²(u), tanh′ without the cancellation (1 − tanh²(30) is 0 in float64, sech² 30 is
    3.5·10⁻²⁶)."""
    m = one_minus(e, lambda t: t.op == "power" and t.params[0] == 2 and is_fn(t.args[0], "tanh"), ones=True)
    if m is None:
        return e
    t, others = m
    return add(apply(SECH2, t.args[0].args[0]), *others)


def exp_over_sum_exp(e: Expr) -> Expr:
    """exp(u) ⊙ (Σ exp(u))^{−1} = softmax(u) for a vector u (shifted by the maximum: no overflow)."""
    if e.op != "mul":
        return e
    for f in e.args:
        if f.op == "power" and f.params[0] == -1 and f.args[0].op == "sum" and is_fn(f.args[0].args[0], "exp"):
            ex = f.args[0].args[0]
            u = ex.args[0]
            if ex in e.args and u.shape[1] == 1 and not u.is_scalar:
                rest = [a for a in e.args if a is not f and a is not ex]
                return mul(*rest, softmax(u))
    return e


#: The codegen-only identities by op (the stable forms); the simplifier's logistic rules and the op blocks' own
#: identities (:data:`matderiv.core.spec.RULES`) are applied with them.
STABLE: dict[str, list[Rule]] = {
    "apply": [log_one_plus_exp, log_sigmoid, log_sum_exp],
    "add": [one_minus_sigmoid, one_minus_tanh_squared],
    "mul": [mul_numbers, mul_one_plus_exp_over_exp, mul_exp_sigmoid, exp_over_sum_exp],
    "power": [power_trivial, power_logistic],
}


def _step(e: Expr) -> Expr:
    return do_one([*STABLE.get(e.op, ()), *SPEC_RULES.get(e.op, ())])(e)


stable = bottom_up(_step)
"""The expression in the stable forms above, bottom-up: what the numpy code evaluates (the same values)."""

__all__ = ["stable", "STABLE", "SECH2", "log_one_plus_exp", "log_sigmoid", "log_sum_exp", "one_minus_sigmoid",
           "one_minus_tanh_squared", "exp_over_sum_exp"]
