"""The op spec's registry: rules and ops registered late still reach the simplifier (its tables are rebuilt)."""
from __future__ import annotations

import matderiv as md
from matderiv.core import spec


def test_a_rule_registered_after_simplify_ran_is_used() -> None:
    B = md.matrix("B", "n", "n")
    e = md.trace(B.T @ B)
    assert md.simplify(e) == e

    def trace_of_gram(x: md.Expr) -> md.Expr:
        """tr(BᵀB) = ‖B‖²_F."""
        a = x.args[0]
        if a.op == "matmul" and len(a.args) == 2 and a.args[0] == a.args[1].T:
            return md.norm2(a.args[1]) ** 2
        return x

    spec.defrule("trace", trace_of_gram)
    try:
        assert md.simplify(e) == md.norm2(B) ** 2
    finally:
        spec.RULES["trace"].remove(trace_of_gram)
        spec.VERSION[0] += 1
    assert md.simplify(e) == e


def test_every_op_states_a_known_transpose_behaviour_and_its_language_name_is_registered() -> None:
    for name, op in spec.OPS.items():
        assert op.transpose in spec.TRANSPOSE, name
        if op.lang:
            assert op.lang in spec.FUNCTIONS, name
