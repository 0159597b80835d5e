"""Jacobians and Hessians in matrix notation, read off the reverse-mode VJP (the identification theorem).

For F(X) with X m×n and F p×q, the VJP with a symbol seed U, G(U) = ∂⟨U, F⟩/∂X, is linear in U:
vec G = Jᵀ vec U, where J is the (pq)×(mn) Jacobian in numerator layout, vec(dF) = J vec(dX) (Magnus &
Neudecker 1999, ch. 9, the first identification theorem). :func:`jacobian` reads the matrix Jᵀ off the tree of
G(U) with one rule per linear operation —

* vec(A U B) = (Bᵀ ⊗ A) vec U (C 520), so A u → A for a vector u;
* vec(Uᵀ) = K vec U, K the commutation matrix;
* vec(W ⊙ U) = diag(vec W) vec U; vec(s U) = s vec U; vec(u W) = vec(W) u for a 1×1 u;
* sum U = 𝟏ᵀ vec U, tr U = vec(I)ᵀ vec U; diag(B diag(u) C) = (B ⊙ Cᵀ) u;
* diag M = S vec M for any other square M and vec diag(u) = Sᵀ u, S = (𝟏ᵀ ⊗ I) diag(vec I) the selection matrix
  of the diagonal (so A diag(u) B reads (Bᵀ ⊗ A) Sᵀ); vec Φ(M) = diag(vec Φ(𝟏𝟏ᵀ)) vec M (Φ is a mask);

— multiplying out (so that diag(s)(I − 𝟏sᵀ) reads diag(s) − s sᵀ), and transposes. A part of G it has no rule
for raises :class:`DerivativeError` naming that part: never a wrong matrix. :func:`hessian` is the Jacobian of
the gradient, ∇²f = J(∇f) (symmetric wherever f is twice continuously differentiable).

For vectors x and F, J is the m×n matrix ∂Fᵢ/∂xⱼ (numerator layout; SymPy's ``Matrix.jacobian`` agrees, but
its matrix-calculus ``diff`` prints the transpose, denominator layout).
"""
from __future__ import annotations

from fractions import Fraction

import sympy

from .ad import Wrt, grad, resolve, vjp_raw
from .core.errors import DerivativeError
from .core.expr import ONE, Expr, describe, iter_nodes
from .ops import add, as_expr, const, diag_matrix, diagpart, eye, kron, matmul, mul, ones, rebuild, symbol, transpose, zeros
from .ops.vecform import commutation, vec
from .simplify import simplify

__all__ = ["jacobian", "hessian", "seed_for"]


def _numel(e: Expr) -> sympy.Expr:
    return e.shape[0] * e.shape[1]


def seed_for(f: Expr, name: str = "U") -> Expr:
    """A symbol of f's shape whose name f does not use (U, U1, U2, …)."""
    used = {s.name for s in f.free_symbols}
    k, cand = 0, name
    while cand in used:
        k += 1
        cand = f"{name}{k}"
    return symbol(cand, *f.shape)


def _kron(p: Expr, q: Expr) -> Expr:
    """P ⊗ Q, with I₁ ⊗ Q = Q, P ⊗ 1 = P and I ⊗ I = I."""
    if p.is_scalar or q.is_scalar:
        return mul(p, q)
    if p.op == "eye" and q.op == "eye":
        return eye(p.shape[0] * q.shape[0])
    return kron(p, q)


def _transpose(e: Expr) -> Expr:
    """eᵀ pushed through ⊙ and elementwise powers, (c A ⊙ B)ᵀ = c Aᵀ ⊙ Bᵀ, (A^{∘p})ᵀ = (Aᵀ)^{∘p}, so that
    transposes reach the factors the simplifier knows (products, ⊗, symmetric matrices)."""
    if e.op == "mul":
        return mul(*[a if a.is_scalar else _transpose(a) for a in e.args])
    if e.op == "power":
        return rebuild(e, [_transpose(e.args[0])])
    return transpose(e)


def _selection(n: sympy.Expr) -> Expr:
    """The n×n² selection matrix of the diagonal, diag(M) = S vec M: S = (𝟏ᵀ ⊗ I) diag(vec I), since
    vec(I ⊙ M) = diag(vec I) vec M and (𝟏ᵀ ⊗ I) vec N = N𝟏 (C 520) sums the columns of N = I ⊙ M."""
    return matmul(kron(ones(1, n), eye(n)), diag_matrix(vec(eye(n))))


class _Unreadable(Exception):
    """A part of the VJP has no read-off rule; ``why`` says so in the user's terms (no seed names)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


_NO_RULE = {  # the ops a VJP may hold that have no vec-form rule (yet), in words
    "blockdot": "is a Kronecker product's, vec(A ⊗ B) = (I ⊗ K ⊗ I)(vec A ⊗ vec B), which matderiv does not write "
                "yet",
}


class _ReadOff:
    """The terms Tₖ with vec L = Σₖ Tₖ vec U, for the expressions L linear in the seed U (memoised)."""

    def __init__(self, seed: Expr, root: Expr) -> None:
        self.u = seed
        self.root = root
        self.memo: dict[Expr, list[Expr]] = {}

    def dep(self, e: Expr) -> bool:
        return self.u in e.free_symbols

    def fail(self, e: Expr, why: str) -> _Unreadable:
        return _Unreadable(why)

    def terms(self, e: Expr) -> list[Expr]:
        out = self.memo.get(e)
        if out is None:
            out = self.memo[e] = [t for t in self._terms(e) if t.op != "zeros" and not (t.op == "const" and
                                                                                          t.params[0] == 0)]
        return out

    def _one(self, args: tuple[Expr, ...], e: Expr) -> int:
        idx = [i for i, a in enumerate(args) if self.dep(a)]
        if len(idx) != 1:
            raise self.fail(e, "is not linear in the cotangent as written (a product of two terms of it)")
        return idx[0]

    def _terms(self, e: Expr) -> list[Expr]:
        if e == self.u:
            return [eye(_numel(e))]
        if not self.dep(e):
            if e.op == "zeros" or (e.op == "const" and e.params[0] == 0):
                return []
            raise self.fail(e, "has a term that is not linear in the cotangent")
        op, a = e.op, e.args
        if op == "transpose":
            (x,) = a
            ts = self.terms(x)
            if x.shape[0] == ONE or x.shape[1] == ONE:
                return ts  # vec of a vector's transpose is the vector
            k = commutation(*x.shape)
            return [matmul(k, t) for t in ts]
        if op in ("vectorize", "unvectorize"):
            return self.terms(a[0])
        if op == "add":
            out: list[Expr] = []
            for t in a:
                if not self.dep(t):
                    self._terms(t)  # raises unless it is zero
                    continue
                ts = self.terms(t)
                if t.is_scalar and not e.is_scalar:  # a scalar broadcast over the sum's shape
                    ts = [matmul(ones(_numel(e), 1), x) for x in ts]
                out += ts
            return out
        if op == "mul":
            i = self._one(a, e)
            f, others = a[i], a[:i] + a[i + 1:]
            ts = self.terms(f)
            if e.is_scalar:
                return [mul(*others, t) for t in ts]
            if f.is_scalar:  # vec(u W) = vec(W) u
                w = vec(mul(*others))
                return [matmul(w, t) for t in ts]
            scalars = [o for o in others if o.is_scalar]
            full = [o for o in others if not o.is_scalar]
            d = [diag_matrix(vec(mul(*full)))] if full else []
            return [mul(*scalars, matmul(*d, t)) if scalars else matmul(*d, t) for t in ts]
        if op == "matmul":
            return self._matmul(e, list(a))
        if op == "solve":
            if self.dep(a[0]):
                raise self.fail(e, "solves with a matrix that depends on the cotangent")
            from .ops import inv
            return self._matmul(e, [inv(a[0]), a[1]])
        if op == "sum":
            return [matmul(ones(1, _numel(a[0])), t) for t in self.terms(a[0])]
        if op == "trace":
            n = a[0].shape[0]
            return [matmul(transpose(vec(eye(n))), t) for t in self.terms(a[0])]
        if op == "diagpart":
            return self._diagpart(e)
        if op == "diag":  # vec diag(u) = Sᵀ u
            return [matmul(transpose(_selection(a[0].shape[0])), t) for t in self.terms(a[0])]
        if op == "phi":  # Φ is a mask: vec Φ(M) = diag(vec Φ(𝟏𝟏ᵀ)) vec M
            from .ops.cholesky import phi
            n = a[0].shape[0]
            mask = diag_matrix(vec(phi(ones(n, n))))
            return [matmul(mask, t) for t in self.terms(a[0])]
        raise self.fail(e, _NO_RULE.get(op, f"has the op '{op}', for which matderiv has no vec-form rule yet"))

    def _matmul(self, e: Expr, a: list[Expr]) -> list[Expr]:
        i = self._one(tuple(a), e)
        left, y, right = a[:i], a[i], a[i + 1:]
        if y.is_scalar:  # A u B = u (A B)
            w = vec(matmul(*left, *right))
            return [matmul(w, t) for t in self.terms(y)]
        if y.op == "diag":  # A diag(u) b = A diag(b) u; aᵀ diag(u) B = (Bᵀ diag(a) u)ᵀ
            v = y.args[0]
            if right and matmul(*right).shape[1] == ONE:
                m = matmul(*left, diag_matrix(matmul(*right)))
                return [matmul(m, t) for t in self.terms(v)]
            if left and matmul(*left).shape[0] == ONE:
                m = matmul(*([transpose(matmul(*right))] if right else []), diag_matrix(transpose(matmul(*left))))
                return [matmul(m, t) for t in self.terms(v)]
            m = matmul(_kron(transpose(matmul(*right)), matmul(*left)), transpose(_selection(v.shape[0])))
            return [matmul(m, t) for t in self.terms(v)]  # vec(A diag(u) B) = (Bᵀ ⊗ A) vec diag(u) = (Bᵀ ⊗ A) Sᵀ u
        r, c = y.shape
        p = transpose(matmul(*right)) if right else eye(c)
        q = matmul(*left) if left else eye(r)
        k = _kron(p, q)
        return [matmul(k, t) for t in self.terms(y)]

    def _diagpart(self, e: Expr) -> list[Expr]:
        (x,) = e.args
        if x.op == "diag":
            return self.terms(x.args[0])
        if x.op == "add":
            out: list[Expr] = []
            for t in x.args:
                if self.dep(t):
                    out += self.terms(rebuild(e, [t]))
                else:
                    self._terms(t)
            return out
        if x.op == "mul":
            i = self._one(x.args, e)
            f, others = x.args[i], x.args[:i] + x.args[i + 1:]
            scalars = [o for o in others if o.is_scalar]
            full = [o for o in others if not o.is_scalar]
            if f.is_scalar:
                raise self.fail(e, "takes the diagonal of a number times a matrix, which matderiv does not write yet")
            d = [diag_matrix(diagpart(mul(*full)))] if full else []
            return [mul(*scalars, matmul(*d, t)) if scalars else matmul(*d, t)
                    for t in self.terms(rebuild(e, [f]))]
        if x.op == "matmul":
            a = x.args
            i = self._one(a, e)
            if a[i].op == "diag":  # diag(B diag(u) C) = (B ⊙ Cᵀ) u
                b = matmul(*a[:i]) if i else eye(x.shape[0])
                c = matmul(*a[i + 1:]) if i + 1 < len(a) else eye(x.shape[1])
                m = mul(b, transpose(c))
                return [matmul(m, t) for t in self.terms(a[i].args[0])]
        return [matmul(_selection(x.shape[0]), t) for t in self.terms(x)]  # diag M = S vec M


def on_symmetric(j: Expr, x: Expr) -> Expr:
    """For a symmetric X the derivative acts on symmetric directions only: J P with P = ½(I + K), the projection
    vec V ↦ vec sym(V), so that J vec(V) = vec(dF[V]) for every symmetric V and J vec(A) = J vec(sym A) — the vec
    form of the gradient convention sym(G) (Srinivasan & Panda 2019). Any other X: J."""
    if not x.symmetric or x.is_scalar:
        return j
    k = commutation(x.shape[0], x.shape[0])
    return simplify(mul(const(Fraction(1, 2)), add(j, matmul(j, k))))


def jacobian(F: object, wrt: Wrt) -> Expr:
    """The Jacobian J of F with respect to the symbol X in numerator layout, vec(dF) = J vec(dX) (column-major
    vec): an m×n matrix ∂Fᵢ/∂xⱼ for a vector F (m) of a vector x (n), Bᵀ ⊗ A for A X B, K for Xᵀ; a row, the
    transposed gradient, for a scalar F. Read off the VJP with a symbol seed (module docstring)."""
    F0 = as_expr(F, "the expression")
    x = resolve(F0, wrt)
    return on_symmetric(_jacobian(F0, x, f"the Jacobian of {F0}"), x)


def _terms(F: Expr, x: Expr) -> list[Expr]:
    """The read-off terms of the (simplified) F's Jacobian; raises :class:`_Unreadable`."""
    u = seed_for(F)
    g = simplify(vjp_raw(F, [x], u)[0])
    return _ReadOff(u, g).terms(g)


def _culprit(F: Expr, x: Expr) -> tuple[Expr, str]:
    """The smallest part of F (children first) whose Jacobian has no read-off, and why."""
    for n in iter_nodes([F]):
        if n.is_symbol or x not in n.free_symbols:
            continue
        try:
            _terms(simplify(n), x)
        except _Unreadable as exc:
            return n, exc.why
    return F, "has a part for which matderiv has no vec-form rule"  # pragma: no cover - F itself failed


def _jacobian(F0: Expr, x: Expr, what: str) -> Expr:
    F = simplify(F0)
    if x not in F.free_symbols:
        return zeros(_numel(F), _numel(x))
    try:
        terms = _terms(F, x)
    except _Unreadable:
        part, why = _culprit(F0, x)
        of = f"the derivative of its part {part}" if part != F0 else "its derivative"
        raise DerivativeError(f"cannot write {what} with respect to {x.name} as a matrix: the vec form of {of} "
                              f"{why}. md.jvp and md.vjp give its directional derivative and its VJP in closed "
                              "form") from None
    if not terms:
        return zeros(_numel(F), _numel(x))
    j = simplify(add(*[_transpose(simplify(t)) for t in terms]))
    want = (_numel(F), _numel(x))
    if any(sympy.expand(a - b) != 0 for a, b in zip(j.shape, want)):  # pragma: no cover - a rule's bug
        raise AssertionError(f"the Jacobian {j} of {F} has the shape {j.shape}, not {want}")
    return j


def hessian(f: object, wrt: Wrt) -> Expr:
    """∇²f, the Jacobian of the gradient of a scalar f: n×n for a vector x (A + Aᵀ for xᵀAx), and in vec form,
    vec(d∇f) = H vec(dX), (mn)×(mn) for an m×n matrix X (Magnus & Neudecker 1999, ch. 10)."""
    f = as_expr(f, "the expression")
    if not f.is_scalar:
        raise DerivativeError(f"md.hessian needs a scalar, but {describe(f)} is not; md.jacobian gives the "
                              "Jacobian of a vector or matrix expression")
    x = resolve(f, wrt)
    g = grad(f, x)  # sym(G) for a symmetric x
    return on_symmetric(_jacobian(g, x, f"the Hessian of {f} (the Jacobian of its gradient {g})"), x)
