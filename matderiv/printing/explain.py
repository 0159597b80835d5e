r"""``md.explain(f, X)``: the derivation of a gradient as numbered steps, as one writes it by hand.

1. The differential of each part of f, children first, by its op's JVP rule (each rule is stated, with its Matrix
   Cookbook or Giles 2008 reference, in the docstring of the op's JVP in its block: the block is the one place
   that knows it).
2. Each term of df brought to the form ⟨G, dX⟩ — gᵀdx, tr(GᵀdX) — by the rearrangement it needs: a scalar is its
   own transpose, tr(AB) = tr(BA), ⟨A, B ⊙ C⟩ = ⟨A ⊙ B, C⟩, sum(A ⊙ B) = tr(AᵀB).
3. The terms collected, and the gradient read off: df = ⟨G, dX⟩ for every dX means ∂f/∂X = G (Magnus &
   Neudecker's first identification theorem). ``.result`` is ``md.grad(f, X)``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable
from ..ad import Wrt, differential_symbol, grad, inner_form, jvp_raw, resolve, transposes, vjp_raw
from ..core.errors import DerivativeError
from ..core.expr import OPS, Expr, describe, iter_nodes
from ..ops import add, const, mul, transpose
from ..ops.base import as_expr
from ..simplify import simplify
from .differential import DifferentialLatexPrinter, lhs_latex

__all__ = ["Step", "Explanation", "explain", "rule_of"]

_GROUP = re.compile(r"\(([^()]*)\)")
_CITATION = re.compile(r"^(C \d|Giles|Murray|Magnus)")


def rule_of(op: str) -> tuple[str, str, str]:
    """(name, statement, reference) of the op's JVP rule, from its docstring ``"Name: statement (reference)."``."""
    rule = OPS[op].jvp
    doc = " ".join((getattr(rule, "__doc__", None) or f"{op}: the derivative of {op}").split())
    name, _, statement = doc.partition(": ")
    if not statement:
        name, statement = f"{op} rule", doc
    refs = [g.split(";")[0].strip() for g in _GROUP.findall(statement)]
    return name, statement, ", ".join(r for r in refs if _CITATION.match(r))


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``lhs = rhs`` by ``rule`` (its name, statement and reference). ``lhs`` is the
    part whose differential is taken (kind ``"differential"``), or the term rearranged (``"rearrange"``);
    ``"collect"`` and ``"gradient"`` steps end the derivation."""

    kind: str
    rule: str
    lhs: Expr | None
    rhs: Expr
    statement: str = ""
    reference: str = ""
    lhs_text: str = ""
    lhs_latex: str = ""
    rhs_latex: str = ""

    def __str__(self) -> str:
        return self.text()

    def text(self, show: Callable[[Expr], str] = str) -> str:
        """``lhs = rhs    [rule: statement]``, expressions printed by ``show`` (``str``, or the text language)."""
        why = f"{self.rule}: {self.statement}" if self.statement else self.rule
        lhs = self.lhs_text if self.lhs is None or self.kind == "simplify" else \
            f"d({show(self.lhs)})" if self.kind == "differential" else show(self.lhs)
        return f"{lhs} = {show(self.rhs)}    [{why}]"


@dataclass
class Explanation:
    """The derivation of ∂f/∂X: ``steps`` (a list of :class:`Step`), ``result`` (equal to ``md.grad(f, X)``)."""

    f: Expr
    wrt: Expr
    steps: list[Step] = field(default_factory=list)
    result: Expr | None = None

    def __str__(self) -> str:
        return self.text()

    def text(self, show: Callable[[Expr], str] = str) -> str:
        """The numbered steps, expressions printed by ``show``."""
        head = f"∂f/∂{self.wrt.name} for f = {show(self.f)}, {self.wrt.name} {describe(self.wrt).split(' ', 1)[1]}:"
        return "\n".join([head] + [f"{i}. {s.text(show)}" for i, s in enumerate(self.steps, 1)])

    def __repr__(self) -> str:
        return str(self)

    def latex(self) -> str:
        r"""The steps as a KaTeX/MathJax ``array``: number, equation, rule (with its reference)."""
        rows = []
        for i, s in enumerate(self.steps, 1):
            why = s.rule + (f" ({s.reference})" if s.reference else "")
            rows.append(rf"{i}. & {s.lhs_latex} = {s.rhs_latex} & \text{{{_text(why)}}}")
        return "\\begin{array}{rll}\n" + " \\\\\n".join(rows) + "\n\\end{array}"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"


def _text(s: str) -> str:
    """Words for LaTeX's \\text{}: its special characters escaped, the symbols the rules' names use (⊙, ⊗, Φ, §)
    written as LaTeX (KaTeX's strict mode rejects them as Unicode)."""
    for a, b in (("\\", r"\textbackslash "), ("{", r"\{"), ("}", r"\}"), ("_", r"\_"), ("#", r"\#"), ("%", r"\%"),
                 ("&", r"\&"), ("$", r"\$"), ("^", r"\^{}"), ("~", r"\~{}"), ("§", r"\S "), ("Φ", r"$\Phi$"),
                 ("⊙", r"$\odot$"), ("⊗", r"$\otimes$")):
        s = s.replace(a, b)
    return s


def _how(term: Expr, dw: Expr) -> tuple[str, str]:
    """The rearrangement that brings dX out of ``term`` to ⟨G, dX⟩: (name, statement with its reference), from the
    operations between dX and the term: an entrywise (⊙) product of matrices under a sum or trace, a sum of
    entries, a trace (cyclic), a transpose in a scalar; a number times the term is none of them."""
    above: dict[Expr, set[str]] = {}
    for n in iter_nodes([term]):
        if dw in n.free_symbols:
            ops = {"hadamard" if n.op == "mul" and sum(not a.is_scalar for a in n.args) > 1 else n.op}
            for a in n.args:
                ops |= above.get(a, set())
            above[n] = ops
    seen = above.get(term, set())
    if "transpose" in seen and term.is_scalar and "trace" not in seen and "sum" not in seen:
        return "a scalar is its own transpose", "aᵀ b = bᵀ a, so (dX)ᵀ moves to the right as dX (C 13)"
    if "hadamard" in seen and ("sum" in seen or "trace" in seen or term.is_scalar):
        return "the Frobenius inner product is entrywise", "⟨A, B ⊙ C⟩ = ⟨A ⊙ B, C⟩ and sum(A ⊙ B) = tr(AᵀB)"
    if "sum" in seen:
        return "a sum of entries is an inner product", "sum(A) = ⟨𝟏𝟏ᵀ, A⟩ = tr(𝟏𝟏ᵀ A)"
    if "trace" in seen:
        return "the trace is cyclic", "tr(A B) = tr(B A) and tr(Aᵀ) = tr(A) (C 13, 16)"
    return "the inner product", "⟨G, dX⟩ = tr(GᵀdX), with dX last"


def _unconstrained(t: Expr, dw: Expr) -> Expr:
    """G with t = ⟨G, dX⟩ for every dX, before the projection on symmetric matrices (md.grad's sym G)."""
    return simplify(vjp_raw(t, [dw], const(1))[0])


def _terms(e: Expr) -> list[Expr]:
    """The terms of a differential, with traces and sums of sums split: tr(A + B) = tr A + tr B (C 15)."""
    if e.op == "add":
        return [t for a in e.args for t in _terms(a)]
    if e.op in ("trace", "sum") and e.args[0].op == "add":
        return [simplify(OPS[e.op].make([t])) for t in _terms(e.args[0])]
    if e.op == "mul" and len(e.args) == 2 and e.args[0].op == "const" and e.args[1].op != "mul":
        return [simplify(OPS["mul"].make([e.args[0], t])) for t in _terms(e.args[1])]
    return [e]


def explain(f: object, wrt: Wrt) -> Explanation:
    """The derivation of ``md.grad(f, X)`` step by step (see the module docstring): ``.steps``, ``.result``,
    ``str()`` and ``_repr_latex_()``."""
    f = as_expr(f, "the expression")
    if not f.is_scalar:
        raise DerivativeError(f"md.explain derives gradients of scalars, but {describe(f)} is not")
    w = resolve(f, wrt)
    dw = differential_symbol(f, w)
    pr = DifferentialLatexPrinter({dw: w})
    out = Explanation(f, w)
    g = simplify(f)
    if g != f:
        out.steps.append(Step("simplify", "textbook form first", f, g, "the expression as the simplifier writes it",
                              lhs_text="f", lhs_latex="f", rhs_latex=pr.doprint(g)))
    def record(n: Expr, raw: Expr) -> Expr:  # each part's differential by its op's JVP rule, children first
        t = simplify(raw)
        if n.op != "transpose":  # d(Xᵀ) = (dX)ᵀ is read inline
            name, statement, ref = rule_of(n.op)
            out.steps.append(Step("differential", name, n, t, statement, ref, lhs_text=f"d({n})",
                                  lhs_latex=lhs_latex(n, pr), rhs_latex=pr.doprint(t)))
        return t
    df = jvp_raw(g, {w: dw}, record) if w in g.free_symbols else None
    result = grad(f, w)
    assert isinstance(result, Expr)
    if df is None:  # f does not depend on X after simplification
        out.result = result
        out.steps.append(Step("gradient", "f does not depend on " + w.name, None, result,
                              lhs_text=f"∂f/∂{w.name}", lhs_latex=rf"\frac{{\partial f}}{{\partial {pr.doprint(w)}}}",
                              rhs_latex=pr.doprint(result)))
        return out
    terms = _terms(df)
    moved: list[Expr] = []
    gs: list[Expr] = []
    for t in terms:
        gt = _unconstrained(t, dw)
        gs.append(gt)
        c = simplify(inner_form(gt, dw))
        moved.append(c)
        if c != t:
            name, statement = _how(t, dw)
            out.steps.append(Step("rearrange", name, t, c, statement, lhs_text=str(t), lhs_latex=pr.doprint(t),
                                  rhs_latex=pr.doprint(c)))
    g_all = simplify(gs[0] if len(gs) == 1 else add(*gs))
    collected = simplify(inner_form(g_all, dw))
    if len(terms) > 1 or collected != moved[0]:
        out.steps.append(Step("collect", "collect the terms", None, collected, "df = ⟨G, dX⟩ with G the sum of "
                              "the terms' coefficients", lhs_text="df", lhs_latex=r"\mathrm{d}f",
                              rhs_latex=pr.doprint(collected)))
    if w.symmetric and not w.is_scalar and not transposes(g_all, g_all):  # ⟨G, dS⟩ = ⟨sym G, dS⟩ as dS = dSᵀ
        sym = simplify(inner_form(simplify(mul(const(Fraction(1, 2)), add(g_all, transpose(g_all)))), dw))
        out.steps.append(Step("symmetric", "symmetric variable", None, sym,
                              f"dS = dSᵀ, so ⟨G, dS⟩ = ⟨Gᵀ, dS⟩ = ⟨sym G, dS⟩ with sym G = (G + Gᵀ)/2 "
                              "(Srinivasan & Panda 2019)", "Srinivasan & Panda 2019", lhs_text="df",
                              lhs_latex=r"\mathrm{d}f", rhs_latex=pr.doprint(sym)))
    out.steps.append(Step("gradient", "read off the gradient", None, result,
                          "df = ⟨G, dX⟩ = tr(GᵀdX) for every dX gives ∂f/∂X = G (Magnus & Neudecker)",
                          "Magnus & Neudecker", lhs_text=f"∂f/∂{w.name}",
                          lhs_latex=rf"\frac{{\partial f}}{{\partial {pr.doprint(w)}}}", rhs_latex=pr.doprint(result)))
    out.result = result
    return out
