"""LaTeX that renders in KaTeX and MathJax: ``a b^{\\top}``, ``X^{-\\top}``, ``\\operatorname{tr}``, ``\\odot``."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy

from ..core.expr import ONE, OPS, Expr
from .base import ATOM, MUL, NEG, POSTFIX, POW, Printer, coefficient, fmt_number


def latex_number(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    r = fmt_number(v)
    if isinstance(v, Fraction) and r.startswith("("):
        sign = "-" if v < 0 else ""
        return rf"{sign}\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"
    if "e" in r:  # 1e-300 → 1 \cdot 10^{-300}
        mantissa, exponent = r.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return r


def latex_name(name: str) -> str:
    """``alpha`` → ``\\alpha``, ``lambda`` → ``\\lambda``, ``W1`` → ``W_{1}`` (SymPy's symbol printing)."""
    return sympy.latex(sympy.Symbol(name))


class LatexPrinter(Printer):
    times = " "

    def number(self, v: float) -> str:
        return latex_number(v)

    def paren(self, s: str) -> str:
        return rf"\left({s}\right)"

    def form(self, e: Expr) -> Any:
        return OPS[e.op].latex

    def _print_symbol(self, e: Expr) -> tuple[str, int]:
        return latex_name(e.name), ATOM

    def _print_const(self, e: Expr) -> tuple[str, int]:
        v = e.params[0]
        return latex_number(v), (NEG if v < 0 else ATOM)

    def _print_ones(self, e: Expr) -> tuple[str, int]:
        n, m = e.shape
        if m == ONE:
            return r"\mathbf{1}", ATOM
        if n == ONE:
            return r"\mathbf{1}^{\top}", POSTFIX
        return r"\mathbf{1}\mathbf{1}^{\top}", ATOM

    def _print_zeros(self, e: Expr) -> tuple[str, int]:
        return "0", ATOM

    def _print_eye(self, e: Expr) -> tuple[str, int]:
        return "I", ATOM

    def _print_mul(self, e: Expr) -> tuple[str, int]:
        c, rest = coefficient(e)
        if rest is None:  # numbers only
            return latex_number(c), (NEG if c < 0 else ATOM)
        fs = list(rest.args) if rest.op == "mul" else [rest]
        scalars = [f for f in fs if f.is_scalar]
        full = [f for f in fs if not f.is_scalar]
        parts: list[str] = []
        num = [f for f in scalars if not (f.op == "power" and f.params[0] < 0)]
        den = [f for f in scalars if f.op == "power" and f.params[0] < 0]
        if den:  # scalar denominators as a fraction: \frac{s}{s + 1}, \frac{1}{2} X
            d = [f.args[0] if f.params[0] == -1 else f.args[0] ** -f.params[0] for f in den]
            ds = self.emit(d[0])[0] if len(d) == 1 else " ".join(self.wrap(f, MUL + 1) for f in d)
            ns = " ".join(self.wrap(f, MUL + 1) for f in num) or "1"
            parts.append(rf"\frac{{{ns}}}{{{ds}}}")
        else:
            parts.extend(self.paren(self.emit(f)[0]) if f.op == "const" and f.params[0] < 0 else self.wrap(f, MUL + 1)
                         for f in num)
        had: list[str] = []
        for f in full:
            if f.op == "power" and f.params[0] == -1 and had:
                had[-1] += rf" \oslash {self.wrap(f.args[0], MUL + 1)}"
            else:
                had.append(self.wrap(f, MUL + 1))
        if had:
            parts.append(r" \odot ".join(had))
        if len(fs) == 1 and rest.op == "matmul":
            parts = [self.emit(rest)[0]]  # a number commutes with the product: 2 A^T x
        if c != 1 and c != -1:
            parts.insert(0, latex_number(c))
        s = parts[0]
        for p in parts[1:]:  # juxtaposed numbers would read as one (2 3): a dot between them
            s += rf" \cdot {p}" if p[:1].isdigit() or p.startswith(("-", r"\frac")) else f" {p}"
        single = len(fs) == 1 and not den and rest.op not in ("mul", "matmul")
        if c == -1:
            return f"-{s}", NEG if single else MUL
        return s, MUL

    def _factor(self, a: Expr) -> str:
        """A factor of a product; products (and A⁻¹B) need no parentheses: matrix products associate."""
        return self.emit(a)[0] if a.op in ("matmul", "solve") else self.wrap(a, MUL + 1)

    def _print_matmul(self, e: Expr) -> tuple[str, int]:
        return " ".join(self._factor(a) for a in e.args), MUL

    def _print_power(self, e: Expr) -> tuple[str, int]:
        a, p = e.args[0], e.params[0]
        if e.is_scalar and p == 0.5:
            return rf"\sqrt{{{self.emit(a)[0]}}}", ATOM
        circ = "" if e.is_scalar else r"\circ "
        return f"{self.base(a)}^{{{circ}{latex_number(p)}}}", POW

    def _print_transpose(self, e: Expr) -> tuple[str, int]:
        a = e.args[0]
        if a.op == "inv":
            return rf"{self.base(a.args[0])}^{{-\top}}", POSTFIX
        return rf"{self.base(a)}^{{\top}}", POSTFIX

    def _print_inv(self, e: Expr) -> tuple[str, int]:
        a = e.args[0]
        if a.op == "transpose":
            return rf"{self.base(a.args[0])}^{{-\top}}", POSTFIX
        return rf"{self.base(a)}^{{-1}}", POSTFIX

    def base(self, a: Expr) -> str:
        """``a`` as the base of a superscript: parenthesised when it has one already (no A^{T}^{T})."""
        s, p = self.emit(a)
        return self.paren(s) if p < POSTFIX or s.endswith("}") and "^{" in s else s

    def _print_solve(self, e: Expr) -> tuple[str, int]:
        a, b = e.args
        return f"{self.emit(_inv(a))[0]} {self._factor(b)}", MUL

    def _print_kron(self, e: Expr) -> tuple[str, int]:
        return " \\otimes ".join(self.wrap(a, MUL + 1) for a in e.args), MUL

    def _print_norm2(self, e: Expr) -> tuple[str, int]:
        a = e.args[0]
        sub = "" if a.shape[1] == ONE or a.shape[0] == ONE else "_{F}"
        return rf"\left\|{self.emit(a)[0]}\right\|{sub}", ATOM

    def _print_apply(self, e: Expr) -> tuple[str, int]:
        fn, a = e.params[0], e.args[0]
        inner = self.emit(a)[0]
        if fn.name == "abs":
            return rf"\left|{inner}\right|", ATOM
        if fn.name == "sqrt":
            return rf"\sqrt{{{inner}}}", ATOM
        known = {"exp", "log", "sin", "cos", "tan", "tanh"}
        head = f"\\{fn.name}" if fn.name in known else (r"\sigma" if fn.name == "sigmoid"
                                                      else rf"\operatorname{{{_escape(fn.name)}}}")
        return rf"{head}\left({inner}\right)", ATOM


def _escape(name: str) -> str:
    return name.replace("_", r"\_")


def _inv(a: Expr) -> Expr:
    from ..ops.linalg import inv
    return inv(a)


_PRINTER = LatexPrinter()


def latex(e: Expr, where: bool = False) -> str:
    r"""LaTeX of ``e``; with ``where=True`` its repeated parts are named:
    ``t_{1} \odot \left(1 - t_{1}\right) \quad \text{where } t_{1} = \sigma\left(W x\right)``."""
    from ..ops.base import as_expr
    e = as_expr(e, "the expression")
    if len(_PRINTER._memo) > 50_000:
        _PRINTER._memo.clear()
    if where:
        from .where import name_shared
        (short,), defs = name_shared([e])
        if defs:
            names = ", ".join(f"{_PRINTER.doprint(n)} = {_PRINTER.doprint(d)}" for n, d in defs)
            return rf"{_PRINTER.doprint(short)} \quad \text{{where }} {names}"
    return _PRINTER.doprint(e)


def latex_equation(f: Expr, wrt: object, seed: object = None) -> str:
    """``\\frac{\\partial}{\\partial X} \\left( f \\right) = …`` — the derivative as a whole equation."""
    from ..ad import grad, resolve, vjp
    from ..ops.base import as_expr
    f = as_expr(f, "the expression")
    w = resolve(f, wrt)  # type: ignore[arg-type]
    d = grad(f, w) if seed is None else vjp(f, w, seed)
    lhs = latex(f) if seed is None else rf"\left\langle {latex(as_expr(seed, 'seed'))}, {latex(f)} \right\rangle"
    return rf"\frac{{\partial}}{{\partial {latex(w)}}} \left( {lhs} \right) = {latex(d)}"  # type: ignore[arg-type]


def _repr_latex_(e: Expr) -> str:
    full = latex(e)
    return f"$\\displaystyle {latex(e, where=True) if len(full) > 400 else full}$"  # long: parts named


Expr._repr_latex_ = _repr_latex_  # type: ignore[attr-defined]  # attached from this layer, as __str__ is
