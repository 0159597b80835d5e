"""Domains come from the ops' specs and, for elementwise functions, from the function itself (SymPy's
continuous_domain), so the certificate samples where a function is defined — both signs where it is defined
everywhere — and refuses given points outside."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

import matderiv as md
from matderiv.core import domains
from matderiv.core.functions import domain_of, x

t = sympy.Symbol("t")


@pytest.mark.parametrize("body,want", [
    (sympy.sqrt(1 + x**2) - 1, domains.EVERYWHERE),      # pseudo-Huber
    (sympy.log(sympy.cosh(x)), domains.EVERYWHERE),      # log cosh
    (x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2, domains.EVERYWHERE),  # exact GELU (SymPy cannot decide erf)
    (sympy.exp(-x**2), domains.EVERYWHERE),
    (sympy.log(x), domains.POSITIVE), (sympy.sqrt(x), domains.POSITIVE), (x ** sympy.Rational(1, 3), domains.POSITIVE),
    (1 / x, domains.NONZERO_ENTRIES), (1 / sympy.erf(x), domains.NONZERO_ENTRIES),
    (sympy.tan(x), domains.BOUNDED), (sympy.log(1 + x), domains.BOUNDED),
    (sympy.Abs(x) ** 3, domains.KINK),
    (sympy.gamma(x), domains.POSITIVE),  # SymPy cannot decide: the cautious choice
])
def test_domain_of_a_function_is_read_from_the_function(body: sympy.Expr, want: domains.Domain) -> None:
    assert domain_of(body) is want


@pytest.mark.parametrize("name,f", [("huber", sympy.sqrt(1 + t**2) - 1), ("logcosh", sympy.log(sympy.cosh(t)))])
def test_functions_defined_everywhere_certify_at_negative_points(name: str, f: sympy.Expr) -> None:
    g = md.elementwise(name, f)
    v = md.vector("v", 4)
    phi = md.sum(g(v))
    report = md.check(phi, v, at={"v": [-2.0, -0.5, -1.5, -3.0]})
    assert report.ok, str(report)
    # d/dv Σ f(vᵢ) = f'(vᵢ) by hand: v/√(1+v²) and tanh v
    vals = np.array([-2.0, -0.5, -1.5, -3.0])
    want = vals / np.sqrt(1 + vals**2) if name == "huber" else np.tanh(vals)
    np.testing.assert_allclose(md.lambdify([v], md.grad(phi, v))(vals), want, rtol=1e-14)


def test_random_points_cover_both_signs_where_a_function_is_defined_everywhere() -> None:
    g = md.elementwise("huber", sympy.sqrt(1 + t**2) - 1)
    X = md.matrix("X", 6, 5)
    report = md.check(md.sum(g(X)), X)
    assert report.ok
    vals = report.values["X"]
    assert (vals < 0).any() and (vals > 0).any()


def test_a_function_defined_for_positive_entries_still_gets_positive_points() -> None:
    X = md.matrix("X", 3, 3)
    report = md.check(md.sum(md.log(X) * X), X)
    assert report.ok and (report.values["X"] > 0).all()
    with pytest.raises(md.CheckError, match="positive entries"):
        md.check(md.sum(md.log(X)), X, at={"X": -np.ones((3, 3))})


def test_every_op_with_a_domain_states_it_as_a_domain_object() -> None:
    from matderiv.core.expr import OPS
    for name, op in OPS.items():
        d = op.domain
        assert d is None or isinstance(d, domains.Domain) or callable(d), name
        if isinstance(d, domains.Domain):
            assert d.description and d.name


def test_the_derivative_of_log_cosh_is_tanh_and_finite_at_800() -> None:
    g = md.elementwise("logcosh", sympy.log(sympy.cosh(t)))
    v = md.vector("v", 3)
    d = md.grad(md.sum(g(v)), v)
    np.testing.assert_allclose(md.lambdify([v], d)(np.array([-800.0, 0.3, 800.0])), [-1.0, np.tanh(0.3), 1.0])
