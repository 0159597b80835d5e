"""Rewriting to textbook form with small, named, one-way rules.

A rule is a pure function ``Expr -> Expr`` that returns its input unchanged when it does not apply; its
docstring states the identity it uses. :func:`simplify` applies the rules of each node's op bottom-up until
none applies. Every rule points toward a canonical form (transposes of products on their factors, numbers in
front, sorted terms, common factors out of sums, never distributed back), so rewriting terminates.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Iterable

from .core.expr import ONE, OPS, Expr, sort_key
from .core.spec import RULES as SPEC_RULES
from .core.spec import VERSION as SPEC_VERSION
from .ops import (add, apply, const, eye, inv, is_number, matmul, mul, neg, ones, power, rebuild, transpose, zeros,
                  zeros_like)

Rule = Callable[[Expr], Expr]
MEMO_LIMIT = 200_000  # simplified nodes remembered between calls


# ---- combinators (after sympy.strategies) ------------------------------------------------------------------
def do_one(rules: Iterable[Rule]) -> Rule:
    """Apply the first rule that changes the expression."""
    rules = tuple(rules)

    def rule(e: Expr) -> Expr:
        for r in rules:
            out = r(e)
            if out != e:
                return out
        return e
    return rule


def bottom_up(rule: Rule) -> Rule:
    """Apply ``rule`` to every node, children first, to a fixpoint: a changed node is simplified again (it may
    hold new nodes), which exhausts the rules there.

    Iterative over the DAG (deep expressions do not reach Python's recursion limit) and memoised.
    """
    memo: dict[Expr, Expr] = {}
    depth = [0]  # nested calls (on rewritten nodes) must not clear the memo an outer walk still reads

    def go(e: Expr) -> Expr:
        if depth[0] == 0 and len(memo) > MEMO_LIMIT:
            memo.clear()
        depth[0] += 1
        try:
            return walk(e)
        finally:
            depth[0] -= 1

    def walk(e: Expr) -> Expr:
        stack: list[tuple[Expr, bool]] = [(e, False)]
        while stack:
            node, ready = stack.pop()
            if node in memo:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if a not in memo)
                continue
            args = tuple(memo[a] for a in node.args)
            new = rebuild(node, args) if args != node.args else node
            out = rule(new)
            memo[node] = go(out) if out != new else out
        return memo[e]
    return go


# ---- helpers -----------------------------------------------------------------------------------------------
def is_zero(e: Expr) -> bool:
    return e.op == "zeros" or is_number(e, 0)


def split_coefficient(e: Expr) -> tuple[float, Expr]:
    """``e = c · rest`` with c a number (``rest`` is the constant 1 when e is a number)."""
    if e.op == "const":
        return e.params[0], const(1)
    if e.op == "mul" and e.args[0].op == "const":
        rest = e.args[1:]
        return e.args[0].params[0], rest[0] if len(rest) == 1 else mul(*rest)
    return 1, e


def scale(c: float, e: Expr) -> Expr:
    if c == 1:
        return e
    if is_number(e, 1):
        return const(c)
    return mul(const(c), e)


def is_fn(e: Expr, name: str) -> bool:
    """Whether ``e`` is the elementwise function ``name`` of something: f(u)."""
    return e.op == "apply" and e.params[0].name == name


def _is_one(e: Expr, ones: bool) -> bool:
    """1, or (when ``ones``) a ones matrix: an unsimplified ``+ vector(1)``."""
    return is_number(e, 1) or (ones and e.op == "ones")


def one_plus(a: Expr, name: str, *, ones: bool = False) -> Expr | None:
    """u when ``a`` is 1 + f(u) (either order) for the function ``name``, else None; 1 is the number, or also a
    ones matrix when ``ones``."""
    if a.op != "add" or len(a.args) != 2:
        return None
    for one, other in (a.args, tuple(reversed(a.args))):
        if _is_one(one, ones) and is_fn(other, name):
            return other.args[0]
    return None


def one_minus(e: Expr, match: Callable[[Expr], bool], *, ones: bool = False) -> tuple[Expr, list[Expr]] | None:
    """``(t, rest)`` when the sum ``e`` is 1 − t + Σ rest with ``match(t)``, t of e's full shape, else None; 1 is
    the number, or also a ones matrix when ``ones``. The one matcher of the "1 − f(u)" rules: 1 − σ(−u) = σ(u)
    here, 1 − σ(u) = σ(−u) and 1 − tanh² u = sech² u in the stable code."""
    if e.op != "add":
        return None
    for i, term in enumerate(e.args):
        c, t = split_coefficient(term)
        if c == -1 and t.shape == e.shape and match(t):
            for j, one in enumerate(e.args):
                if j != i and _is_one(one, ones):
                    return t, [x for k, x in enumerate(e.args) if k not in (i, j)]
    return None


def _key(e: Expr) -> tuple[int, bool, bool, tuple[object, ...]]:
    """Canonical order of factors: numbers, scalars, then the rest, symbols first and sums last (y ⊙ σ(−y ⊙ Xw),
    as a paper writes it); by structure otherwise."""
    rank = 0 if e.op == "const" else 1 if e.is_scalar else 2
    return (rank, e.op == "add", rank == 2 and e.op != "symbol", sort_key(e))


def _behaviour(e: Expr) -> str:
    """How ``e``'s op behaves under transposition (:data:`matderiv.core.spec.TRANSPOSE`)."""
    return OPS[e.op].transpose


def _number_value(v: float) -> int | float:
    return const(v).params[0]  # type: ignore[no-any-return]


# ---- transpose ---------------------------------------------------------------------------------------------------
def transpose_of_transpose(e: Expr) -> Expr:
    """(Xᵀ)ᵀ = X."""
    a = e.args[0]
    return a.args[0] if a.op == "transpose" else e


def transpose_of_symmetric(e: Expr) -> Expr:
    """sᵀ = s for a 1×1 s; Aᵀ = A for symmetric A, I, diag(v); (𝟏𝟏ᵀ)ᵀ = 𝟏𝟏ᵀ, 0ᵀ = 0 with swapped shapes."""
    a = e.args[0]
    if a.symmetric:
        return a
    if _behaviour(a) == "fill":
        return Expr(a.op, (), ((a.shape[1], a.shape[0]),), (a.shape[1], a.shape[0]))
    return e


def transpose_of_product(e: Expr) -> Expr:
    """(A B ⋯ Z)ᵀ = Zᵀ ⋯ Bᵀ Aᵀ (C 5)."""
    a = e.args[0]
    return rebuild(a, [transpose(f) for f in reversed(a.args)]) if _behaviour(a) == "reverses" else e


def _transposes_freely(e: Expr) -> bool:
    """Whether eᵀ simplifies on its own: a transpose, a product (C 5), a scalar or a symmetric operand."""
    if e.op in ("add", "mul"):
        return all(_transposes_freely(a) for a in e.args if not a.is_scalar)
    return e.symmetric or e.op == "transpose" or _behaviour(e) in ("reverses", "fill")


def transpose_of_elementwise(e: Expr) -> Expr:
    """(A + B)ᵀ = Aᵀ + Bᵀ, (A ⊙ B)ᵀ = Aᵀ ⊙ Bᵀ, f(X)ᵀ = f(Xᵀ), (X^{∘p})ᵀ = (Xᵀ)^{∘p} (C 4).

    Applied to sums and products whose operands are symbols or transpose freely (transposes, products,
    symmetric), at least half of them freely, and to f(X) only when X is a transpose: (A + Aᵀ)ᵀ = A + Aᵀ, while
    f(X Wᵀ + 𝟏bᵀ)ᵀ and (δ W ⊙ f'(Z))ᵀ stay transposes of values computed in their natural layout (backprop's).
    """
    a = e.args[0]
    if _behaviour(a) != "elementwise":
        return e
    if a.op in ("add", "mul"):
        full = [x for x in a.args if not x.is_scalar]
        free = [_transposes_freely(x) for x in full]
        if all(f or x.op == "symbol" for f, x in zip(free, full)) and 2 * sum(free) >= len(full):
            return rebuild(a, [transpose(x) for x in a.args])
    elif len(a.args) == 1 and a.args[0].op == "transpose":
        return rebuild(a, [a.args[0].args[0]])
    return e


def transpose_commutes(e: Expr) -> Expr:
    """f(A, B)ᵀ = f(Aᵀ, Bᵀ) for the ops that commute with transposition: (X⁻¹)ᵀ = (Xᵀ)⁻¹ = X^{−T} (C 3),
    (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ (C 508)."""
    a = e.args[0]
    if _behaviour(a) == "commutes":
        return rebuild(a, [transpose(x) for x in a.args])
    return e


# ---- matmul ---------------------------------------------------------------------------------------------------------
def matmul_of_zero(e: Expr) -> Expr:
    """A 0 B = 0."""
    return zeros_like(e) if any(is_zero(a) for a in e.args) else e


def matmul_drop_identity(e: Expr) -> Expr:
    """A I B = A B."""
    kept = [a for a in e.args if a.op != "eye"]
    if len(kept) == len(e.args):
        return e
    return matmul(*kept) if kept else eye(e.shape[0])


def matmul_pull_scalars(e: Expr) -> Expr:
    """A (c B) C = c (A B C) for 1×1 c, and a 1×1 factor s of a chain commutes out: A s B = s (A B)."""
    scalars: list[Expr] = []
    chain: list[Expr] = []
    for a in e.args:
        if a.is_scalar:
            scalars.append(a)
        elif a.op == "mul" and a.args[0].is_scalar:
            s = [f for f in a.args if f.is_scalar]
            scalars.extend(s)
            rest = [f for f in a.args if not f.is_scalar]
            chain.append(rest[0] if len(rest) == 1 else mul(*rest))
        else:
            chain.append(a)
    if not scalars:
        return e
    if not chain:
        return mul(*scalars)
    return mul(*scalars, matmul(*chain))


def matmul_pull_inner_scalars(e: Expr) -> Expr:
    """A x (yᵀ z) B = (yᵀ z) A x B: a 1×1 run inside a chain is a scalar and commutes out."""
    a = e.args
    for i in range(len(a)):
        if a[i].shape[0] != ONE:
            continue
        for j in range(i, len(a)):
            if a[j].shape[1] == ONE:
                if (i, j) != (0, len(a) - 1):
                    rest = a[:i] + a[j + 1:]
                    return mul(matmul(*a[i:j + 1]), matmul(*rest))
                break
    return e


def matmul_of_ones(e: Expr) -> Expr:
    """𝟏_{a×n} 𝟏_{n×b} = n 𝟏_{a×b} for a numeric n."""
    a = e.args
    for i in range(len(a) - 1):
        if a[i].op == "ones" and a[i + 1].op == "ones" and a[i].shape[1].is_Integer:
            n = int(a[i].shape[1])
            rest = a[:i] + (ones(a[i].shape[0], a[i + 1].shape[1]),) + a[i + 2:]
            return mul(n, matmul(*rest))
    return e


def matmul_diag_ones(e: Expr) -> Expr:
    """diag(v) 𝟏 = v and 𝟏ᵀ diag(v) = vᵀ: a diagonal matrix times ones is its vector."""
    a = list(e.args)
    for i in range(len(a) - 1):
        if a[i].op == "diag" and a[i + 1].op == "ones":
            v, o = a[i].args[0], a[i + 1]
            new = v if o.shape[1] == ONE else matmul(v, ones(1, o.shape[1]))
            return matmul(*a[:i], new, *a[i + 2:])
        if a[i].op == "ones" and a[i + 1].op == "diag":
            o, v = a[i], a[i + 1].args[0]
            new = transpose(v) if o.shape[0] == ONE else matmul(ones(o.shape[0], 1), transpose(v))
            return matmul(*a[:i], new, *a[i + 2:])
    return e


def matmul_cancel_inverse(e: Expr) -> Expr:
    """A⁻¹ A = A A⁻¹ = I."""
    a = list(e.args)
    for i in range(len(a) - 1):
        l, r = a[i], a[i + 1]
        if (l.op == "inv" and l.args[0] == r) or (r.op == "inv" and r.args[0] == l):
            rest = a[:i] + a[i + 2:]
            return matmul(*rest) if rest else eye(l.shape[0])
    return e


def matmul_of_scalars(e: Expr) -> Expr:
    """A product of 1×1 factors is their ordinary product."""
    return mul(*e.args) if all(a.is_scalar for a in e.args) else e


# ---- add ---------------------------------------------------------------------------------------------------------------
def add_drop_zeros(e: Expr) -> Expr:
    """A + 0 = A."""
    kept = [a for a in e.args if not is_zero(a)]
    if len(kept) == len(e.args):
        return e
    if not kept:
        return zeros_like(e)
    out = add(*kept)
    return out if out.shape == e.shape else mul(out, ones(*e.shape))


def add_ones_as_number(e: Expr) -> Expr:
    """A + c 𝟏𝟏ᵀ = A + c, the number broadcast, when another term has the full shape: exp(u) + 𝟏 = exp(u) + 1
    (MatrixCalculus.org's ``+ vector(1)`` and ``+ 1`` are one expression)."""
    if not any(t.shape == e.shape and split_coefficient(t)[1].op != "ones" for t in e.args):
        return e
    out, changed = [], False
    for t in e.args:
        c, rest = split_coefficient(t)
        if rest.op == "ones" and not t.is_scalar:
            out.append(const(c))
            changed = True
        else:
            out.append(t)
    return add(*out) if changed else e


def add_collect(e: Expr) -> Expr:
    """a X + b X = (a + b) X; numbers are added."""
    coeffs: dict[Expr, float] = {}
    for t in e.args:
        c, rest = split_coefficient(t)
        coeffs[rest] = coeffs.get(rest, 0) + c
    if len(coeffs) == len(e.args):
        return e
    terms = [scale(_number_value(c), r) for r, c in coeffs.items() if c != 0]
    if not terms:
        return zeros_like(e)
    out = add(*terms)
    return out if out.shape == e.shape else mul(out, ones(*e.shape))


def add_common_number(e: Expr) -> Expr:
    """c A ± c B = c (A ± B) for a number c common (up to sign) to every term: 2Ax − 2b = 2(Ax − b)."""
    parts = [split_coefficient(t) for t in e.args]
    sizes = {abs(c) for c, _ in parts}
    if len(sizes) != 1 or 1 in sizes or any(t.op == "const" for t in e.args):
        return e
    c = sizes.pop()
    if all(k < 0 for k, _ in parts):
        c = -c
    return scale(c, add(*[scale(_number_value(k / c), rest) for k, rest in parts]))


def _factors(e: Expr) -> list[Expr]:
    return list(e.args) if e.op == "mul" else [e]


def add_common_factor(e: Expr) -> Expr:
    """c ⊙ A + c ⊙ B + D = c ⊙ (A + B) + D for a non-numeric factor c of two or more terms (⊙ distributes)."""
    terms = [_factors(t) for t in e.args]
    for fs in terms:
        for f in fs:
            if f.op == "const":
                continue
            group = [i for i, gs in enumerate(terms) if f in gs]
            if len(group) < 2:
                continue
            rests = []
            for i in group:
                gs = list(terms[i])
                gs.remove(f)
                rests.append(mul(*gs) if gs else const(1))
            grouped = mul(f, add(*rests))
            if grouped.shape != mul(*terms[group[0]]).shape:
                continue
            others = [t for i, t in enumerate(e.args) if i not in group]
            return add(grouped, *others) if others else grouped
    return e


def add_factor(e: Expr) -> Expr:
    """P X + Q X = (P + Q) X and X P + X Q = X (P + Q), for a factor X common to every term."""
    parts = []
    for t in e.args:
        c, rest = split_coefficient(t)
        if rest.op != "matmul":
            return e
        parts.append((c, rest.args))
    for side in (-1, 0):
        f = parts[0][1][side]
        if all(p[1][side] == f for p in parts):
            inner = []
            for c, chain in parts:
                rest = chain[:-1] if side == -1 else chain[1:]
                inner.append(scale(c, matmul(*rest)))
            s = add(*inner)
            return matmul(s, f) if side == -1 else matmul(f, s)
    return e


def add_sort(e: Expr) -> Expr:
    """Terms in canonical order: positive terms first, numbers first among them, full-shape terms before
    scalars, then by structure: A x − b, A + Aᵀ, 1 − tanh²(x), s ⊙ c − a, X A − 0.1."""
    key = []
    for t in e.args:
        c, rest = split_coefficient(t)
        key.append(((c < 0, t.op != "const", t.is_scalar, sort_key(rest)), t))
    order = [t for _, t in sorted(key, key=lambda kt: kt[0])]
    return e if order == list(e.args) else add(*order)


# ---- mul ----------------------------------------------------------------------------------------------------------------
def mul_of_zero(e: Expr) -> Expr:
    """0 ⊙ A = 0."""
    return zeros_like(e) if any(is_zero(a) for a in e.args) else e


def mul_numbers(e: Expr) -> Expr:
    """Numbers multiply into one leading coefficient, and a coefficient 1 is dropped."""
    nums = [a for a in e.args if a.op == "const"]
    if not nums or (len(nums) == 1 and e.args[0] is nums[0] and nums[0].params[0] != 1):
        return e
    c = 1
    for n in nums:
        c *= n.params[0]
    rest = [a for a in e.args if a.op != "const"]
    if not rest:
        return const(_number_value(c))
    return scale(_number_value(c), rest[0] if len(rest) == 1 else mul(*rest))


def mul_drop_ones(e: Expr) -> Expr:
    """A ⊙ 𝟏𝟏ᵀ = A when another factor has the full shape."""
    full = [a for a in e.args if a.shape == e.shape and a.op != "ones"]
    if not full or not any(a.op == "ones" for a in e.args):
        return e
    return mul(*[a for a in e.args if a.op != "ones"])


def _base_exponent(a: Expr) -> tuple[Expr, Fraction | float]:
    """``a = b^{∘p}``: powers, square roots (p = 1/2) and powers of square roots."""
    base, p = (a.args[0], a.params[0]) if a.op == "power" else (a, 1)
    if is_fn(base, "sqrt"):
        base, p = base.args[0], p * Fraction(1, 2)
    return (a, 1) if base.op == "const" else (base, p)


def _as_power(b: Expr, p: Fraction | float) -> Expr:
    """b^{∘p}, written with a square root for half-integer p: √b, 1/√b, √b^{∘3}."""
    if p == 1:
        return b
    if (2 * p) % 2 == 1:
        root = apply("sqrt", b)
        return root if p == Fraction(1, 2) else power(root, _number_value(2 * p))
    return power(b, _number_value(p))


def mul_powers(e: Expr) -> Expr:
    """X^{∘a} ⊙ X^{∘b} = X^{∘(a+b)}, √X = X^{∘1/2}; X^{∘0} = 𝟏𝟏ᵀ (where X is defined)."""
    exps: dict[Expr, Fraction | float] = {}
    for a in e.args:
        base, p = _base_exponent(a)
        exps[base] = exps.get(base, 0) + p
    if len(exps) == len(e.args):
        return e
    factors = [_as_power(b, p) for b, p in exps.items() if p != 0]
    if not factors:
        return ones(*e.shape) if not e.is_scalar else const(1)
    out = mul(*factors)
    return out if out.shape == e.shape else mul(out, ones(*e.shape))


def mul_sigmoid(e: Expr) -> Expr:
    """exp(z) ⊙ (1 + exp(z))^{∘−1} = σ(z), the logistic function."""
    for f in e.args:
        if (f.op == "power" and f.params[0] == -1 and f.args[0].op == "add" and len(f.args[0].args) == 2
                and is_number(f.args[0].args[0], 1) and is_fn(f.args[0].args[1], "exp")):
            ez = f.args[0].args[1]
            if ez in e.args:
                rest = [a for a in e.args if a is not f and a != ez]
                return mul(*rest, apply("sigmoid", ez.args[0])) if rest else apply("sigmoid", ez.args[0])
    return e


def _linear_terms(e: Expr) -> dict[Expr, float]:
    """``e`` as Σ cᵢ tᵢ: its terms by their coefficients (c (A + B) counts as c A + c B)."""
    c, rest = split_coefficient(e)
    out: dict[Expr, float] = {}
    for t in (rest.args if rest.op == "add" else (rest,)):
        k, r = split_coefficient(t)
        out[r] = out.get(r, 0) + c * k
    return out


def is_negation(a: Expr, b: Expr) -> bool:
    """Whether a = −b term by term: −y ⊙ Xw and y ⊙ Xw, a − b and b − a, −(a − b) and a − b."""
    if a.shape != b.shape:
        return False
    ta, tb = _linear_terms(a), _linear_terms(b)
    return ta.keys() == tb.keys() and all(ta[k] == -tb[k] for k in ta)


def negate(e: Expr) -> Expr:
    """−e, a sum negated term by term (−(a − b) = b − a) and a coefficient flipped (−(−u) = u)."""
    if e.op == "add":
        return add(*[negate(t) for t in e.args])
    c, rest = split_coefficient(e)
    return scale(_number_value(-c), rest)


def power_logistic(e: Expr) -> Expr:
    """(1 + exp(u))^{∘−k} = σ(−u)^{∘k} for a whole k > 0: 1/(1 + e^{−z}) = σ(z), 1/(1 + e^{z}) = σ(−z) (1 a number,
    or a ones matrix: the stable code applies this rule to unsimplified expressions)."""
    (a,), (p,) = e.args, e.params
    u = one_plus(a, "exp", ones=True)
    if u is None or u.shape != e.shape or p >= 0 or not float(p).is_integer():
        return e
    return _as_power(apply("sigmoid", negate(u)), _number_value(-p))  # σ(−u) itself for k = 1, not σ(−u)^{∘1}


def mul_one_plus_exp_over_exp(e: Expr) -> Expr:
    """(1 + e^u) ⊙ (e^u)^{∘−1} = 1 + e^{−u}: (exp(u) + 1)/exp(u) is the logistic loss's 1 + exp(−u) (1 a number,
    or a ones matrix in unsimplified code)."""
    for f in e.args:
        if f.op == "power" and f.params[0] == -1 and is_fn(f.args[0], "exp"):
            u = f.args[0].args[0]
            for s in e.args:
                if s is not f and one_plus(s, "exp", ones=True) == u and s.shape == e.shape:
                    rest = [a for a in e.args if a is not f and a is not s]
                    return mul(*rest, add(1, apply("exp", negate(u))))
    return e


def mul_exp_sigmoid(e: Expr) -> Expr:
    """exp(u) ⊙ σ(−u) = σ(u) (e^u/(1 + e^u) = 1/(1 + e^{−u})), also inside a power: exp(u) ⊙ σ(−u)^{∘k} =
    σ(u) ⊙ σ(−u)^{∘(k−1)}. So exp(z)/(1 + exp(z)) is σ(z) and e^{−z}/(1 + e^{−z}) is σ(−z)."""
    exps = [f for f in e.args if is_fn(f, "exp")]
    if not exps:
        return e
    for f in e.args:
        base, k = (f.args[0], f.params[0]) if f.op == "power" else (f, 1)
        if not is_fn(base, "sigmoid") or not (k == 1 or (k > 1 and float(k).is_integer())):
            continue
        for ex in exps:
            u = ex.args[0]
            if ex.shape == e.shape and is_negation(u, base.args[0]):
                rest = [a for a in e.args if a is not f and a is not ex]
                if k > 1:
                    rest.append(power(base, _number_value(k - 1)))
                rest.append(apply("sigmoid", u))
                return mul(*rest)
    return e


def mul_sigmoid_pair(e: Expr) -> Expr:
    """σ(u) ⊙ σ(−u) = σ(u) ⊙ (1 − σ(u)), σ′'s textbook form (u the side whose leading coefficient is positive)."""
    sig = [f for f in e.args if is_fn(f, "sigmoid")]
    for i, f in enumerate(sig):
        for g in sig[i + 1:]:
            if is_negation(f.args[0], g.args[0]):
                pos, other = (f, g) if split_coefficient(f.args[0])[0] > 0 else (g, f)
                rest = [a for a in e.args if a is not f and a is not g]
                return mul(*rest, pos, add(1, neg(pos)))
    return e


def add_one_minus_sigmoid(e: Expr) -> Expr:
    """1 − σ(−u) = σ(u) for a u with a positive leading coefficient (σ(−u) = 1 − σ(u) read from right to left;
    1 − σ(u) itself stays, σ′'s textbook σ(u) ⊙ (1 − σ(u)))."""
    m = one_minus(e, lambda t: is_fn(t, "sigmoid") and split_coefficient(t.args[0])[0] < 0)
    if m is None:
        return e
    s, others = m
    return add(apply("sigmoid", negate(s.args[0])), *others)


def mul_one_minus_sigmoid(e: Expr) -> Expr:
    """A ⊙ (1 − σ(u)) = A ⊙ σ(−u) unless σ(u) is a factor of A. A factor of a product takes one form, so that the
    logistic gradient is −Xᵀ(y ⊙ σ(−y ⊙ Xw)) from log(1 + e^{−u}) and from −log σ(u) alike, while σ′'s textbook
    σ(u) ⊙ (1 − σ(u)) stays, and so does 1 − σ(u) on its own (d log σ(u)/du)."""
    bases = {_base_exponent(f)[0] for f in e.args}
    for i, f in enumerate(e.args):
        m = one_minus(f, lambda t: is_fn(t, "sigmoid") and t not in bases)
        if m is not None and not m[1]:
            return mul(*e.args[:i], apply("sigmoid", negate(m[0].args[0])), *e.args[i + 1:])
    return e


def mul_sign(e: Expr) -> Expr:
    """u ⊙ sign(u) = |u| and sign(u) ⊙ |u|^{∘−1} = u^{∘−1}."""
    for f in e.args:
        if is_fn(f, "sign"):
            u = f.args[0]
            for partner, result in ((u, apply("abs", u)), (power(apply("abs", u), -1), power(u, -1))):
                if partner in e.args:
                    rest = [a for a in e.args if a is not f and a != partner]
                    return mul(*rest, result) if rest else result
    return e


def _cancels(term: Expr, outside: dict[Expr, Fraction | float]) -> bool:
    """Whether ``term`` has a factor b^{∘p}, p < 0, whose base b is a factor b^{∘q}, q > 0, of ``outside``."""
    _, rest = split_coefficient(term)
    for f in _factors(rest):
        b, p = _base_exponent(f)
        if p < 0 and outside.get(b, 0) > 0:
            return True
    return False


def mul_distribute_cancelling(e: Expr) -> Expr:
    """P ⊙ (Σᵢ tᵢ) = Σᵢ P ⊙ tᵢ when every term tᵢ divides by a factor of P, which then cancels:
    σ(z) ⊙ (1 − σ(z)) ⊙ ((1 − t) ⊘ (1 − σ(z)) − t ⊘ σ(z)) = (1 − t) ⊙ σ(z) − t ⊙ (1 − σ(z)), the
    cross-entropy's gradient. (Only then: sums are otherwise never distributed, and each application removes a
    quotient, so rewriting terminates.)"""
    sums = [f for f in e.args if f.op == "add" and f.shape == e.shape]
    if not sums:
        return e
    for s in sums:
        others = [f for f in e.args if f is not s]
        outside: dict[Expr, Fraction | float] = {}
        for f in others:
            b, p = _base_exponent(f)
            outside[b] = outside.get(b, 0) + p
        if all(_cancels(t, outside) for t in s.args):
            return add(*[mul(*others, t) for t in s.args])
    return e


def mul_sort(e: Expr) -> Expr:
    """Factors in canonical order: numbers, scalars, then the rest (⊙ is commutative)."""
    order = sorted(e.args, key=_key)
    return e if order == list(e.args) else mul(*order)


# ---- power -----------------------------------------------------------------------------------------------------------------
def power_trivial(e: Expr) -> Expr:
    """X^{∘1} = X, X^{∘0} = 𝟏𝟏ᵀ, (X^{∘a})^{∘b} = X^{∘ab} for integer b, numbers are evaluated."""
    (a,), (p,) = e.args, e.params
    if p == 1:
        return a
    if p == 0:
        return ones(*e.shape)
    if a.op == "power" and float(p).is_integer():
        return power(a.args[0], _number_value(a.params[0] * p))
    if a.op == "const" and float(p).is_integer() and a.params[0] != 0:  # exact; 2^{1/2} stays a power
        return const(Fraction(a.params[0]) ** int(p))
    if a.op == "ones" or (a.op == "zeros" and p > 0):
        return a
    return e


# ---- elementwise functions ---------------------------------------------------------------------------------------------------
def apply_inverse_pair(e: Expr) -> Expr:
    """log(exp(X)) = X and exp(log(X)) = X (X > 0 where log is defined)."""
    fn, a = e.params[0].name, e.args[0]
    if a.op == "apply" and {fn, a.params[0].name} == {"exp", "log"}:
        return a.args[0]
    return e


# ---- scalar functions of matrices ---------------------------------------------------------------------------------------------
def of_transpose(e: Expr) -> Expr:
    """f(Xᵀ) = f(X) for the ops invariant under transposition: tr, det, log det, sum, ‖·‖ (C 13, 20)."""
    a = e.args[0]
    return rebuild(e, [a.args[0]]) if a.op == "transpose" else e


def of_scalar(e: Expr) -> Expr:
    """An op of a 1×1 argument is what its spec says it is there: tr s = det s = sum s = s, log det s = log s,
    ‖s‖ = |s|, s⁻¹ = 1/s."""
    a = e.args[0]
    rule = OPS[e.op].of_scalar
    return rule(a) if rule is not None and a.is_scalar else e


def pull_coefficient(e: Expr) -> Expr:
    """tr(c X) = c tr X, sum(c X) = c sum X, diag(c X) = c diag X, A⁻¹(c B) = c A⁻¹B (linear in the last
    argument: numbers commute out)."""
    c, rest = split_coefficient(e.args[-1])
    if c == 1 or rest.op == "const":
        return e
    return scale(c, rebuild(e, [*e.args[:-1], rest]))


def linear_of_zero(e: Expr) -> Expr:
    """L(0) = 0 for a linear op L of one argument (not for n-ary add: A + 0 = A)."""
    return zeros_like(e) if len(e.args) == 1 and is_zero(e.args[0]) else e


#: The identities particular to an op (between ops: log det X⁻¹ = −log det X). The rules every op with a flag in
#: its spec gets — L(0) = 0 (linear), f(…, cX) = c f(…, X) (scales), f(Xᵀ) = f(X) (invariant), its value on a 1×1
#: argument (of_scalar) — are added from the spec by :func:`rules_of`.
IDENTITIES: dict[str, list[Rule]] = {
    "transpose": [transpose_of_transpose, transpose_of_symmetric, transpose_of_product, transpose_of_elementwise,
                  transpose_commutes],
    "matmul": [matmul_of_zero, matmul_drop_identity, matmul_of_scalars, matmul_pull_scalars, matmul_pull_inner_scalars,
               matmul_of_ones, matmul_diag_ones, matmul_cancel_inverse],
    "add": [add_drop_zeros, add_ones_as_number, add_one_minus_sigmoid, add_collect, add_common_number, add_common_factor, add_factor, add_sort],
    "mul": [mul_of_zero, mul_numbers, mul_drop_ones, mul_powers, mul_sigmoid, mul_one_plus_exp_over_exp,
            mul_exp_sigmoid, mul_sigmoid_pair, mul_one_minus_sigmoid, mul_sign, mul_distribute_cancelling, mul_sort],
    "power": [power_trivial, power_logistic],
    "apply": [apply_inverse_pair],
}


def rules_of(name: str) -> list[Rule]:
    """The rules of the op ``name``: the generic ones its spec's flags give, then its identities (here, and those
    op blocks registered with :func:`matderiv.core.spec.defrule`)."""
    op = OPS[name]
    out: list[Rule] = [linear_of_zero] if op.linear else []
    if op.transpose == "invariant":
        out.append(of_transpose)
    if op.of_scalar is not None:
        out.append(of_scalar)
    if op.scales:
        out.append(pull_coefficient)
    return out + IDENTITIES.get(name, []) + SPEC_RULES.get(name, [])


_STEPS: dict[str, Rule] = {}


def _step(e: Expr) -> Expr:
    rule = _STEPS.get(e.op)
    if rule is None:  # built on first use, so that ops registered after this module get their rules too
        rule = _STEPS[e.op] = do_one(rules_of(e.op))
    return rule(e)


_simplify: Rule = bottom_up(_step)
_BUILT = [SPEC_VERSION[0]]


def simplify(e: Expr) -> Expr:
    """``e`` rewritten to canonical textbook form by the rules of :func:`rules_of`, bottom-up."""
    global _simplify
    from .ops import as_expr
    if _BUILT[0] != SPEC_VERSION[0]:  # an op or a rule was registered since: rebuild the rule tables and memo
        _STEPS.clear()
        _simplify = bottom_up(_step)
        _BUILT[0] = SPEC_VERSION[0]
    return _simplify(as_expr(e, "the expression"))


__all__ = ["simplify", "IDENTITIES", "rules_of", "do_one", "bottom_up"]
