"""Reverse and forward mode: the VJP and JVP sweeps over the expression DAG, then simplification to textbook form;
differentials dF in a symbol dX, and Hessian-vector products (forward over reverse)."""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Mapping, Sequence, Union

from .core.errors import ArgumentError, DerivativeError, ShapeError
from .core.expr import OPS, Expr, describe, fmt_shape, iter_nodes
from .ops import add, as_expr, const, mul, symbol, transpose, zeros
from .simplify import simplify

Wrt = Union[Expr, str]


def resolve(f: Expr, wrt: Wrt, what: str = "wrt") -> Expr:
    """The symbol ``wrt`` names in ``f`` (a symbol, or its name as a string)."""
    if isinstance(wrt, str):
        for s in f.free_symbols:
            if s.name == wrt:
                return s
        names = ", ".join(sorted(s.name for s in f.free_symbols)) or "none"
        raise ArgumentError(f"{what}: {f} has no symbol named {wrt!r} (its symbols: {names})")
    if not isinstance(wrt, Expr):
        raise ArgumentError(f"{what} must be a symbol or a symbol's name, got {type(wrt).__name__} {wrt!r}")
    if not wrt.is_symbol:
        raise DerivativeError(f"can only differentiate with respect to a symbol, not {describe(wrt)}")
    for s in f.free_symbols:
        if s.name == wrt.name and s != wrt:
            raise ShapeError(f"{what}: {describe(wrt)} is not the symbol {describe(s)} of the same name in {f}")
    return wrt


def vjp_raw(f: Expr, wrt: Sequence[Expr], seed: Expr) -> list[Expr]:
    """Unsimplified cotangents ∂⟨seed, f⟩/∂w for each symbol w, by one reverse sweep in topological order."""
    order = iter_nodes([f])
    targets = set(wrt)
    needed: set[Expr] = set()
    for n in order:  # children first: a node is needed when it depends on a target
        if n in targets or any(a in needed for a in n.args):
            needed.add(n)
    cts: dict[Expr, list[Expr]] = {f: [seed]}  # the cotangent contributions reaching each node
    for n in reversed(order):  # parents first: a node's cotangent is complete when it is reached
        if n.is_symbol or n not in needed or n not in cts:
            continue
        parts = cts.pop(n)
        g = parts[0] if len(parts) == 1 else add(*parts)
        rule = OPS[n.op].vjp
        for i, a in enumerate(n.args):
            if a in needed:
                if rule is None:  # pragma: no cover - every op with arguments has a rule (tested)
                    raise DerivativeError(f"no derivative rule for '{n.op}'")
                cts.setdefault(a, []).append(rule(g, n, i))
    out = []
    for w in wrt:
        parts = cts.get(w)
        out.append(zeros(*w.shape) if not parts else parts[0] if len(parts) == 1 else add(*parts))
    return out


def jvp_raw(f: Expr, tangents: dict[Expr, Expr],
            visit: Callable[[Expr, Expr], Expr] | None = None) -> Expr:
    """Unsimplified directional derivative df[V] by one forward sweep, children first, each op's JVP rule giving a
    node's tangent from its arguments' (a symbol's tangent is ``tangents[symbol]``, absent ones are zero).
    ``visit(node, tangent)``, when given, is called for every non-symbol node with a nonzero tangent, children
    first, and returns the tangent to carry on with (``md.explain`` records each rule there and simplifies)."""
    order = iter_nodes([f])
    tan: dict[Expr, Expr | None] = {}
    for n in order:
        if n.is_symbol:
            tan[n] = tangents.get(n)
        elif not n.args:
            tan[n] = None
        else:
            ts = [tan[a] for a in n.args]
            if all(t is None for t in ts):
                tan[n] = None
                continue
            rule = OPS[n.op].jvp
            if rule is None:
                raise DerivativeError(f"the op '{n.op}' has no forward-mode (JVP) rule: give its defop a jvp=")
            t = rule(ts, n)
            tan[n] = visit(n, t) if visit is not None and t is not None else t
    return tan[f] if tan[f] is not None else zeros(*f.shape)


def vjp(f: Expr, wrt: Wrt | Sequence[Wrt], seed: object) -> Expr | tuple[Expr, ...]:
    """∂⟨seed, f⟩/∂X in closed form (what ``F.backward(seed)`` leaves in ``X.grad``); ``seed`` has f's shape."""
    f = as_expr(f, "the expression")
    seed_e = as_expr(seed, "seed")
    if seed_e.shape != f.shape:
        raise ShapeError(f"the seed {describe(seed_e)} must have the shape {fmt_shape(f.shape)} of {describe(f)}")
    many = isinstance(wrt, (list, tuple))
    ws = [resolve(f, w) for w in (wrt if many else [wrt])]  # type: ignore[union-attr]
    for w in ws:
        if w in seed_e.free_symbols:
            raise DerivativeError(f"the seed {seed_e} depends on {w.name!r}: a seed is held constant (as in "
                                  f"F.backward(seed)); differentiate <seed, F> with md.grad instead")
    raw = vjp_raw(simplify(f), ws, seed_e)  # f's identities first: log det X = logdet X
    res = tuple(on_symmetric(simplify(g), w) for g, w in zip(raw, ws))
    return res if many else res[0]


def on_symmetric(g: Expr, w: Expr) -> Expr:
    """The gradient on the symmetric matrices for a symmetric w: sym(G) = (G + Gᵀ)/2 of the unconstrained G, the
    Frobenius projection, so ⟨sym G, V⟩ = ⟨G, V⟩ = df[V] for every symmetric V (Srinivasan & Panda 2019,
    arXiv:1911.06491); G itself when it is symmetric already. Any other w: G."""
    if not w.symmetric or w.is_scalar or transposes(g, g):
        return g
    return simplify(mul(const(Fraction(1, 2)), add(g, transpose(g))))


def transposes(a: Expr, b: Expr, memo: dict[tuple[Expr, Expr], bool] | None = None) -> bool:
    """Whether b = aᵀ by structure: (Aᵀ)ᵀ = A, Sᵀ = S for symmetric S, (A₁⋯A_k)ᵀ = A_kᵀ⋯A₁ᵀ, (A⁻¹)ᵀ = (Aᵀ)⁻¹,
    and term by term for sums and elementwise ops (C 4, C 5). False when it cannot tell."""
    memo = {} if memo is None else memo
    if (a, b) not in memo:
        memo[(a, b)] = _transposes(a, b, memo)
    return memo[(a, b)]


def _transposes(a: Expr, b: Expr, memo: dict[tuple[Expr, Expr], bool]) -> bool:
    if a.shape != (b.shape[1], b.shape[0]):
        return False
    if a.is_scalar or a == b and a.symmetric:
        return a == b
    if a.op == "transpose" or b.op == "transpose":
        return a.args[0] == b if a.op == "transpose" else b.args[0] == a
    how = OPS[a.op].transpose
    if a.op != b.op or len(a.args) != len(b.args) or (how != "fill" and a.params != b.params):
        return False
    if how == "fill":
        return True
    if how == "reverses":
        return all(transposes(x, y, memo) for x, y in zip(a.args, reversed(b.args)))
    if how == "commutes" or (how == "elementwise" and a.op not in ("add", "mul")):
        return all(transposes(x, y, memo) for x, y in zip(a.args, b.args))
    if how == "elementwise":  # a sum or an elementwise product: the terms of b are the transposes of a's, in any order
        rest = list(b.args)
        for x in a.args:
            k = next((i for i, y in enumerate(rest) if transposes(x, y, memo)), None)
            if k is None:
                return False
            rest.pop(k)
        return True
    return False


def grad(f: Expr, wrt: Wrt | Sequence[Wrt]) -> Expr | tuple[Expr, ...]:
    """∂f/∂X for a scalar f, laid out like X (numpy/torch ``X.grad``); a list of symbols gives a tuple. For a
    symmetric X it is the gradient on the symmetric matrices, sym(G) (:func:`on_symmetric`)."""
    f = as_expr(f, "the expression")
    if not f.is_scalar:
        w = wrt if isinstance(wrt, str) else wrt.name if isinstance(wrt, Expr) and wrt.is_symbol else "X"
        raise DerivativeError(f"md.grad needs a scalar, but {describe(f)} is not; for a matrix-valued "
                              f"expression give a seed of its shape: md.vjp(F, {w!r}, md.ones_like(F))")
    return vjp(f, wrt, const(1))


def _tangent(w: Expr, v: object) -> Expr:
    """The direction ``v`` for the symbol ``w``: an expression of w's shape (symmetric when w is)."""
    t = as_expr(v, f"the direction for {w.name!r}")
    if t.shape != w.shape:
        raise ShapeError(f"the direction {describe(t)} must have the shape {fmt_shape(w.shape)} of {describe(w)}")
    if w.symmetric and not transposes(simplify(t), simplify(t)):
        raise DerivativeError(f"{describe(w)} is symmetric, so its directions are too, but {describe(t)} is not "
                              f"symmetric by construction; give a symmetric direction such as (V + V.T)/2")
    return t


def _tangents(f: Expr, wrt: Wrt | Mapping[Wrt, object], v: object, what: str = "md.jvp") -> dict[Expr, Expr]:
    if isinstance(wrt, Mapping):
        if v is not None:
            raise ArgumentError(f"{what}(F, {{X: V, ...}}) takes the directions in the dict; give no third argument")
        pairs = list(wrt.items())
        if not pairs:
            raise ArgumentError(f"{what}(F, {{}}): give at least one symbol and its direction")
    else:
        if v is None:
            raise ArgumentError(f"{what}(F, X, V) needs a direction V of X's shape (or a dict {{X: V, ...}})")
        pairs = [(wrt, v)]
    out: dict[Expr, Expr] = {}
    for w, t in pairs:
        s = resolve(f, w)
        if s in out:
            raise ArgumentError(f"{what}: the symbol {s.name!r} is given twice")
        out[s] = _tangent(s, t)
    for s, t in out.items():  # as a seed of md.vjp: a direction depending on a moved symbol is not a direction
        moved = sorted(w.name for w in out if w in t.free_symbols)
        if moved:
            raise DerivativeError(f"the direction {t} for {s.name!r} depends on {', '.join(map(repr, moved))}: a "
                                  f"direction is held constant (X + tV with V fixed); give a symbol or an expression "
                                  f"free of {', '.join(map(repr, moved))}")
    return out


def jvp(f: object, wrt: Wrt | Mapping[Wrt, object], v: object = None) -> Expr:
    """The directional derivative dF[V] = d/dt F(X + tV) at t = 0 in closed form, by one forward sweep (each op's
    JVP rule: d(X⁻¹) = −X⁻¹ V X⁻¹, d det X = det X tr(X⁻¹V), …) and simplification; of F's shape. ``v`` is any
    expression of X's shape (held constant); ``md.jvp(F, {X: V, Y: W})`` moves several symbols at once."""
    f = as_expr(f, "the expression")
    tangents = _tangents(f, wrt, v)
    return simplify(jvp_raw(simplify(f), tangents))


def differential_symbol(f: Expr, w: Expr) -> Expr:
    """The symbol d<name> of w's shape (symmetric when w is) that stands for dw in a differential of ``f``."""
    name = "d" + w.name
    for s in f.free_symbols:
        if s.name == name:
            raise ArgumentError(f"{f} already has a symbol named {name!r}, the name the differential of {w.name!r} "
                                f"would take; rename it")
    return symbol(name, *w.shape, symmetric=w.symmetric)


def differential(f: object, wrt: Wrt | Sequence[Wrt]) -> Expr:
    """dF as an expression in the new symbol dX (named d<name>, X's shape): d(X⁻¹) = −X⁻¹ dX X⁻¹,
    d det X = det X tr(X⁻¹ dX). A scalar F is brought to the canonical form dF = ⟨G, dX⟩ with G = ∂F/∂X
    (Magnus & Neudecker's first identification theorem): gᵀdx for a vector x, tr(Gᵀ dX) for a matrix X, so that
    d(xᵀAx) = xᵀ(A + Aᵀ) dx. A list of symbols gives the total differential (the sum over them)."""
    f = as_expr(f, "the expression")
    ws = [resolve(f, w) for w in (wrt if isinstance(wrt, (list, tuple)) else [wrt])]
    ds = {w: differential_symbol(f, w) for w in ws}
    if not f.is_scalar:
        return simplify(jvp_raw(simplify(f), ds))
    gs = grad(f, ws)
    assert isinstance(gs, tuple)
    terms = [inner_form(g, dw) for g, dw in zip(gs, ds.values())]
    return simplify(terms[0] if len(terms) == 1 else add(*terms))


def inner_form(g: Expr, dw: Expr) -> Expr:
    """⟨G, dX⟩ as textbook writes it: g dx (scalars), gᵀ dx (columns), dx gᵀ (rows), tr(Gᵀ dX) (matrices; a
    rank-one G = c a bᵀ gives c aᵀ dX b by the cyclic property of the trace, C 16)."""
    from .ops import matmul, mul, trace
    if dw.is_scalar:
        return mul(g, dw)
    if dw.shape[1] == 1:
        return matmul(transpose(g), dw)
    if dw.shape[0] == 1:
        return matmul(dw, transpose(g))
    scale = [a for a in g.args if a.is_scalar] if g.op == "mul" else []
    rest = [a for a in g.args if not a.is_scalar] if g.op == "mul" else [g]
    if len(rest) == 1 and rest[0].op == "matmul" and rest[0].args[0].shape[1] == 1:  # G = c a ⋯ bᵀ
        a, tail = rest[0].args[0], rest[0].args[1:]
        return mul(*scale, matmul(transpose(a), dw, transpose(matmul(*tail))))
    inner = rest[0] if len(rest) == 1 else mul(*rest)
    return mul(*scale, trace(matmul(inner if transposes(inner, inner) else transpose(inner), dw)))  # Gᵀ = G: no ᵀ


def hvp(f: object, wrt: Wrt | Mapping[Wrt, object], v: object = None) -> Expr:
    """The Hessian-vector product ∇²f(X)[V] = d(∇f)[V] of a scalar f in closed form, X's shape: forward over
    reverse (the JVP of the gradient), which gives the textbook forms (A + Aᵀ)v for xᵀAx, 2AᵀAv for ‖Ax − b‖²,
    p ⊙ v − p(pᵀv) for logsumexp(x) with p = softmax(x). ``md.hvp(f, {X: V})`` is ``md.hvp(f, X, V)``."""
    f = as_expr(f, "the expression")
    if not f.is_scalar:
        raise DerivativeError(f"md.hvp needs a scalar, but {describe(f)} is not; for a matrix-valued expression "
                              f"take a seed: md.hvp(md.sum(U * F), X, V)")
    if isinstance(wrt, Mapping) and len(wrt) > 1:
        raise ArgumentError(f"md.hvp takes one variable and its direction, got {len(wrt)}: call it once per "
                            "variable (the Hessian blocks of several variables are md.jvp of each md.grad)")
    ((w, t),) = _tangents(f, wrt, v, "md.hvp").items()
    g = grad(f, w)
    assert isinstance(g, Expr)
    return simplify(jvp_raw(g, {w: t}))
