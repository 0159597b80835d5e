"""The op spec: everything particular to an operation, in one record that every layer reads.

An :class:`Op` states its shape rule (one definition, read by node construction and by the text language's
dimension inference through a :class:`ShapeAlgebra`), its VJP and JVP rules (written in matderiv's own ops, so
derivatives of derivatives work), how it behaves under transposition, its domain, its print forms, its name in
the text language, its SymPy counterpart and its numerics: an mpmath definition (the reference every backend
is held to) and a numpy emitter. :func:`defop` registers it; :func:`deflinear` and :func:`defbilinear` derive
the repetitive rules of linear and bilinear ops, as JAX's ``deflinear2``/``defbilinear`` do.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

import sympy

from .dims import ONE, Shape
from .errors import ShapeError
from .expr import OPS, Expr, describe

if TYPE_CHECKING:  # pragma: no cover
    from .domains import Domain

Vjp = Callable[[Expr, Expr, int], Expr]
"""``vjp(g, out, i)``: the cotangent of argument ``i`` of the node ``out`` given the cotangent ``g`` of ``out``."""
Jvp = Callable[[Sequence["Expr | None"], Expr], Expr]
"""``jvp(tangents, out)``: the tangent of ``out`` given its arguments' tangents (None: a zero tangent)."""
Builder = Callable[[Sequence[Expr], tuple[Any, ...]], Expr]

#: How an op behaves under transposition, the one fact the simplifier and the code generator read:
TRANSPOSE = {
    "": "nothing is known",
    "symmetric": "its values equal their transposes (I, diag v)",
    "fill": "a constant-filled leaf: its transpose is the same leaf with the shape swapped (𝟏𝟏ᵀ, 0)",
    "elementwise": "f(A, B)ᵀ = f(Aᵀ, Bᵀ) for an elementwise f",
    "commutes": "f(A, B)ᵀ = f(Aᵀ, Bᵀ), always worth applying ((X⁻¹)ᵀ = (Xᵀ)⁻¹, (A⊗B)ᵀ = Aᵀ⊗Bᵀ)",
    "reverses": "(A B)ᵀ = Bᵀ Aᵀ",
    "invariant": "f(Xᵀ) = f(X) (tr, det, sum, ‖·‖)",
}


# ---- shapes --------------------------------------------------------------------------------------------------------
class ShapeFailure(Exception):
    """Raised by a shape rule; ``message`` may name the operands as ``{0}``, ``{1}``, … and the op as ``{op}``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ShapeAlgebra:
    """The dimension operations a shape rule may use. This one compares concrete SymPy dimensions; the text
    language's inference supplies one that unifies dimension variables instead, so both read the same rule."""

    one: Any = ONE

    def equal(self, a: Any, b: Any) -> bool:
        """Whether a = b (unifying them, for inference)."""
        return bool(a == b or sympy.expand(a - b) == 0)

    def is_one(self, a: Any) -> bool:
        return bool(a == ONE)

    def prod(self, a: Any, b: Any) -> Any:
        return a * b

    def quot(self, whole: Any, part: Any) -> Any | None:
        """whole / part when it is a whole number of blocks, else None."""
        q = sympy.cancel(whole / part)
        if sympy.fraction(q)[1] != 1 or (q.is_number and not (q.is_Integer and q > 0)):
            return None
        return q

    def show(self, a: Any) -> str:
        """A dimension as an error message names it."""
        return str(a)

    def is_scalar(self, s: tuple[Any, Any]) -> bool:
        return self.is_one(s[0]) and self.is_one(s[1])

    def square(self, s: tuple[Any, Any], i: int = 0, what: str = "{op}") -> None:
        if not self.equal(s[0], s[1]):
            self.fail(f"{what} needs a square matrix, got {{{i}}}")

    @staticmethod
    def fail(message: str) -> NoReturn:
        raise ShapeFailure(message)


CONCRETE = ShapeAlgebra()
ShapeRule = Callable[[ShapeAlgebra, tuple[tuple[Any, Any], ...], tuple[Any, ...]], tuple[Any, Any]]


# ---- the spec ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Op:
    """An operation. See the module docstring; every field but ``name`` and ``shape`` may be left out."""

    name: str
    shape: ShapeRule
    vjp: Vjp | None = None
    jvp: Jvp | None = None
    build: Builder | None = None            # builds a node from args and params (flattening, broadcasting)
    transpose: str = ""                     # a key of TRANSPOSE
    linear: bool = False                    # linear in its (single) argument: L(0) = 0
    scales: bool = False                    # homogeneous in its last argument: f(…, cX) = c f(…, X)
    of_scalar: Callable[[Expr], Expr] | None = None  # what it is of a 1×1 argument: tr s = s, log det s = log s
    domain: Domain | Callable[[Expr], Domain | None] | None = None  # where its (first) argument must lie
    
    text: str | Callable[..., str] = ""     # str() form over the printed arguments: "trace({0})", or
    latex: str | Callable[..., str] = ""    # (node, *printed args) -> str; LaTeX: r"\operatorname{{tr}}\left({0}\right)"
    lang: str = ""                          # its name in the text language ("" when not in the language)
    params: tuple[str, ...] = ()            # names of its parameters, written as trailing integer arguments
    sympy: Callable[..., Any] | None = None  # (converter, node, *SymPy arguments) -> its SymPy expression
    from_sympy: tuple[type, ...] = ()       # SymPy classes that convert to this op
    mpmath: Callable[..., Any] | None = None  # the definition on mpmath matrices: (*args, *params) -> matrix
    numpy: str | Callable[..., str] | None = None  # numpy emitter: "{xp}.trace({0})", or (code, node) -> str

    def __post_init__(self) -> None:
        if self.transpose not in TRANSPOSE:
            raise ValueError(f"op {self.name!r}: transpose={self.transpose!r} is not one of {sorted(TRANSPOSE)}")

    def domain_at(self, e: Expr) -> Domain | None:
        """The domain the first argument of the node ``e`` must lie in (None: anywhere)."""
        d = self.domain
        return d(e) if callable(d) and not hasattr(d, "contains") else d  # type: ignore[return-value]

    @property
    def arity(self) -> int | None:
        """The number of arguments in the text language (None: n-ary)."""
        return _ARITY.get(self.name)

    def make(self, args: Sequence[Expr], params: tuple[Any, ...] = ()) -> Expr:
        """The node ``name(args; params)`` as its builder makes it (flattened, broadcast)."""
        return self.build(args, params) if self.build is not None else node(self.name, args, params)


_ARITY: dict[str, int] = {}
#: Bumped whenever an op or a rule is registered or changed, so that caches built from the registry (the
#: simplifier's rule tables and memo) are rebuilt: an op block loaded late still gets its rules.
VERSION = [0]


def defop(name: str, shape: ShapeRule, *, arity: int | None = None, **fields: Any) -> Op:
    """Register the op ``name``; ``arity`` is its number of arguments (None for n-ary ops)."""
    op = Op(name, shape, **fields)
    OPS[name] = op
    VERSION[0] += 1
    if arity is not None:
        _ARITY[name] = arity
    if op.lang:
        if arity is None:
            raise ValueError(f"op {name!r}: a function of the text language needs an arity")
        deffunction(op.lang, arity, shape, lambda *args: OPS[name].make(args[:arity], tuple(args[arity:])),
                    op.params, f"the op {name}")
    return op


def update(name: str, **fields: Any) -> Op:
    """Fill more fields of a registered op (rules that need ops defined after it)."""
    OPS[name] = op = replace(OPS[name], **fields)
    VERSION[0] += 1
    return op


def node(name: str, args: Sequence[Expr] = (), params: tuple[Any, ...] = ()) -> Expr:
    """The node ``name(args; params)``, its shape from the op's rule (a ShapeError names the operands)."""
    args = tuple(args)
    try:
        shape = OPS[name].shape(CONCRETE, tuple(a.shape for a in args), params)
    except ShapeFailure as f:
        raise ShapeError(f.message.format(*map(describe, args), op=name)) from None
    return Expr(name, args, params, shape)


def rebuild(e: Expr, args: Sequence[Expr]) -> Expr:
    """``e`` with new arguments (same op and params); flattening and broadcasting apply again."""
    return OPS[e.op].make(args, e.params)


# ---- derived rules -------------------------------------------------------------------------------------------------
def linear_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Linearity: d L(X) = L(dX) for a linear L."""
    (t,) = tangents
    return None if t is None else rebuild(out, [t])


def bilinear_jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
    """Product rule: d B(A, C) = B(dA, C) + B(A, dC) for a bilinear B."""
    a, c = out.args
    v, w = tangents
    parts = [rebuild(out, [v, c])] if v is not None else []
    if w is not None:
        parts.append(rebuild(out, [a, w]))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else OPS["add"].make(parts, ())


def _documented(rule: Jvp, doc: str) -> Jvp:
    """``rule`` under the docstring ``doc`` (the op's own statement of it, which md.explain prints)."""
    if not doc:
        return rule

    def jvp(tangents: Sequence[Expr | None], out: Expr) -> Expr | None:
        return rule(tangents, out)
    jvp.__doc__ = doc
    return jvp  # type: ignore[return-value]


def deflinear(name: str, shape: ShapeRule, adjoint: Callable[[Expr, Expr], Expr], rule: str = "",
              **fields: Any) -> Op:
    """A linear op of one argument: its VJP is ``adjoint(g, out)`` (the adjoint map Lᵀ applied to g), its JVP
    L(V) (``rule`` states it for this op: "Transpose rule: d(Xᵀ) = (dX)ᵀ (C 44)."), and L(0) = 0 for the
    simplifier."""
    def vjp(g: Expr, out: Expr, i: int) -> Expr:
        return adjoint(g, out)
    vjp.__doc__ = adjoint.__doc__
    fields.setdefault("scales", True)
    return defop(name, shape, vjp=vjp, jvp=_documented(linear_jvp, rule), linear=True, **fields)


def defbilinear(name: str, shape: ShapeRule, left: Callable[[Expr, Expr], Expr],
                right: Callable[[Expr, Expr], Expr], rule: str = "", **fields: Any) -> Op:
    """A bilinear op B(A, C): ``left(g, out)`` and ``right(g, out)`` are the cotangents of A and of C (each the
    adjoint of B with the other argument held); its JVP is the product rule (``rule`` states it for this op)."""
    def vjp(g: Expr, out: Expr, i: int) -> Expr:
        return left(g, out) if i == 0 else right(g, out)
    vjp.__doc__ = f"{left.__doc__} {right.__doc__}"
    return defop(name, shape, vjp=vjp, jvp=_documented(bilinear_jvp, rule), arity=2, **fields)


# ---- identities an op's block adds to the simplifier -------------------------------------------------------------
#: Rewrite rules by the op they apply to, registered by op blocks (:func:`defrule`); the simplifier adds them to
#: its own identities. A rule is a function Expr → Expr that returns its input unchanged when it does not apply, and
#: its docstring states the identity.
RULES: dict[str, list[Callable[[Expr], Expr]]] = {}


def defrule(op: str, rule: Callable[[Expr], Expr]) -> Callable[[Expr], Expr]:
    """Register ``rule`` for nodes of ``op`` (say log |det X| = logabsdet X, from logabsdet's block, for ``apply``)."""
    RULES.setdefault(op, []).append(rule)
    VERSION[0] += 1
    return rule


def rule_for(op: str) -> Callable[[Callable[[Expr], Expr]], Callable[[Expr], Expr]]:
    """``@rule_for("apply")`` above a rule: :func:`defrule` as a decorator."""
    return lambda rule: defrule(op, rule)


# ---- the text language's functions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LangFunction:
    """A function of the text language: ``build(*args, *params)`` makes the expression and ``shape`` (an op's
    shape rule, over the arguments' shapes) tells dimension inference its result."""

    name: str
    arity: int
    shape: ShapeRule
    build: Callable[..., Expr]
    params: tuple[str, ...] = ()
    doc: str = ""


#: The text language's functions by name (ops with a ``lang`` name, and composites such as norm1 and diag).
FUNCTIONS: dict[str, LangFunction] = {}


def deffunction(name: str, arity: int, shape: ShapeRule, build: Callable[..., Expr],
                params: tuple[str, ...] = (), doc: str = "") -> LangFunction:
    FUNCTIONS[name] = f = LangFunction(name, arity, shape, build, params, doc)
    return f


__all__ = ["Op", "OPS", "defop", "update", "deflinear", "defbilinear", "node", "rebuild", "ShapeAlgebra",
           "ShapeFailure", "CONCRETE", "TRANSPOSE", "LangFunction", "FUNCTIONS", "deffunction", "RULES", "defrule", "rule_for"]
