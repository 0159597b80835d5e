"""LaTeX that renders in KaTeX and MathJax: ``a b^{\\top}``, ``X^{-\\top}``, ``\\operatorname{tr}``, ``\\odot``."""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import sympy

from ..core.expr import ONE, OPS, Expr, iter_nodes
from .base import (ADD, ATOM, MUL, NEG, POSTFIX, POW, Chain, Hadamard, Printer, Product, decimal_digits,
                   decimal_text, scalar_rank, split_product)


def latex_number(v: Any) -> str:
    """A number as a paper prints it: ``2``, ``\\frac{1}{3}`` and ``-\\frac{3}{2}`` (rationals with small terms: a
    numerator below 1000, a denominator up to 1024), ``10^{-5}``, ``10^{5}`` and ``2 \\cdot 10^{-3}`` (at most 3
    significant digits, up to 1/100 or from 10⁵ up), ``0.1234567891234`` and ``123.456`` (other finite decimals
    from 1/100 to 10¹⁶, as written), ``1.7976931348623157 \\cdot 10^{308}`` (beyond them), else the fraction (no
    finite decimal: its denominator has a prime other than 2 and 5). Exact: integer arithmetic, never a float."""
    if v < 0:
        return "-" + latex_number(-v)
    if isinstance(v, float):
        v = Fraction(repr(v))
    if isinstance(v, Fraction) and v.denominator == 1:
        v = v.numerator
    if v == 0:
        return "0"
    dec = decimal_digits(v)
    if isinstance(v, int):
        digits, e = dec  # type: ignore[misc]
        return _scientific(digits, e) if e >= 5 and (len(digits) <= 3 or e >= 16) else str(v)
    p, q = v.numerator, v.denominator
    if dec is not None and len(dec[0]) <= 3 and v <= Fraction(1, 100):  # 10^{-2}, 2 \cdot 10^{-3}
        return _scientific(*dec)
    if dec is None or p < 1000 and q <= 1024:
        return rf"\frac{{{p}}}{{{q}}}"
    digits, e = dec
    return decimal_text(digits, e, plain=True) if -2 <= e < 16 else _scientific(digits, e)


def _scientific(digits: str, e: int) -> str:
    """``m \\cdot 10^{e}`` (``10^{e}`` when m = 1) for the decimal d₁.d₂⋯ · 10ᵉ."""
    m = decimal_text(digits, e, plain=False)
    return f"10^{{{e}}}" if m == "1" else rf"{m} \cdot 10^{{{e}}}"


def fraction_of(v: Any) -> tuple[int, int] | None:
    """(p, q) when the positive number v prints as the fraction p/q (or the integer p, q = 1), else None (it
    prints as 10^{k} or in scientific form)."""
    s = latex_number(v)
    if s.startswith(r"\frac"):
        return v.numerator, v.denominator
    return (v, 1) if isinstance(v, int) and s == str(v) else None


def exponent(p: Any) -> str:
    """An exponent: ``2``, ``-1``, ``3/2`` (a fraction written inline, as papers do in superscripts)."""
    if isinstance(p, Fraction) and p.denominator != 1:
        return f"{p.numerator}/{p.denominator}"
    return str(p)


def latex_name(name: str) -> str:
    """``alpha`` → ``\\alpha``, ``lambda`` → ``\\lambda``, ``W1`` → ``W_{1}`` (SymPy's symbol printing)."""
    return sympy.latex(sympy.Symbol(name))


def _ends_with_superscript(s: str) -> bool:
    """Whether ``s`` ends in a superscript group ``^{…}`` (a base for another exponent needs brackets)."""
    if not s.endswith("}"):
        return False
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        if s[i] == "}" and (i == 0 or s[i - 1] != "\\"):
            depth += 1
        elif s[i] == "{" and (i == 0 or s[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i > 0 and s[i - 1] == "^"
    return False


class LatexPrinter(Printer):
    """LaTeX as a paper prints it: numbers and scalar factors lead a product (``\\frac{1}{2} x^{\\top} A x``),
    equal neighbouring factors of a matrix product are a power (``X^{3}``), sums of entries are ones-products
    (``\\mathbf{1}^{\\top} X \\mathbf{1}``), elementwise quotients use ⊘, and no bracket is printed that carries
    nothing."""

    times = " "

    def number(self, v: Any) -> str:
        return latex_number(v)

    def paren(self, s: str) -> str:
        return rf"\left({s}\right)"

    def form(self, e: Expr) -> Any:
        return OPS[e.op].latex

    def chain_of(self, e: Expr) -> Sequence[Expr] | None:
        """The factors of ops that LaTeX writes as a matrix product: A⁻¹B for solve(A, B), 𝟏ᵀX𝟏 for sum(X)."""
        if e.op == "solve":
            return (_inv(e.args[0]), e.args[1])
        if e.op == "sum" and not _is_norm1(e):
            from ..ops.base import ones
            a = e.args[0]
            n, m = a.shape
            return (*([ones(1, n)] if n != ONE else []), a, *([ones(m, 1)] if m != ONE else []))
        return None

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

    # -- products ----------------------------------------------------------------------------------------------
    def _print_mul(self, e: Expr) -> tuple[str, int]:
        return self.product(split_product(e, self.chain_of, exact=True, opened=self._opened))

    _print_matmul = _print_solve = _print_mul

    def _print_sum(self, e: Expr) -> tuple[str, int]:
        """Σᵢⱼ Xᵢⱼ = 𝟏ᵀX𝟏 (𝟏ᵀx of a vector); Σ|xᵢ| of a vector is its 1-norm ‖x‖₁."""
        if _is_norm1(e):
            return rf"\left\|{self.emit(e.args[0].args[0])[0]}\right\|_{{1}}", ATOM
        return self._print_mul(e)

    def product(self, p: Product) -> tuple[str, int]:
        """c s₁ ⋯ (or \\frac{c s₁ ⋯}{d₁ ⋯}) followed by the non-scalar core."""
        c = p.coeff
        if c == 0:
            return "0", ATOM
        sign, c = ("-", -c) if c < 0 else ("", c)
        scalars = sorted(((self._core(s), s) for s in p.scalars), key=lambda t: scalar_rank(t[1], t[0][1]))
        core = self._core(p.core) if p.core is not None else None
        parts: list[str] = []
        if p.den:
            frac = fraction_of(c)
            lead = [] if frac is not None else [latex_number(c)]
            top, bottom = frac if frac is not None else (1, 1)
            num = ([str(top)] if top != 1 else []) + self._juxtapose([t[0] for t in scalars], alone_bare=top == 1,
                                                                     exprs=[t[1] for t in scalars])
            if not num and core is not None:  # \frac{x - a}{\left\|x - a\right\|}
                num, core = [core[0]], None
            den = ([str(bottom)] if bottom != 1 else []) + self._juxtapose(
                [self.emit(b if q == 1 else _power(b, q)) for b, q in p.den], alone_bare=True)
            parts = lead + [rf"\frac{{{_join(num) or '1'}}}{{{_join(den)}}}"]
        else:
            if c != 1:
                parts.append(latex_number(c))
            parts += self._juxtapose([t[0] for t in scalars], last_bare=core is None, exprs=[t[1] for t in scalars],
                                     followed=core is not None)
        if core is not None:
            parts.append(self.paren(core[0]) if core[1] <= ADD else core[0])
        if not parts:
            return sign + "1", (NEG if sign else ATOM)
        items = scalars + ([(core, None)] if core is not None else [])
        if c == 1 and not p.den and len(items) == 1:  # one factor: it binds as itself (-x is a negation)
            s, level = items[0][0]
            if not sign:
                return s, level
            return (sign + s, NEG) if level > MUL else (sign + (s if level == MUL else self.paren(s)), MUL)
        return sign + _join(parts), MUL

    def _juxtapose(self, items: list[tuple[str, int]], last_bare: bool = True, alone_bare: bool = False,
                   exprs: Sequence[Expr | Chain] = (), followed: bool = False) -> list[str]:
        """Scalar factors side by side: a sum bracketed, a product bracketed unless it stands last; an expression of
        ``exprs`` (the factors printed as ``items``) also where :meth:`bracketed` says so."""
        out = []
        for i, (s, level) in enumerate(items):
            last = i == len(items) - 1
            bare = level > MUL or (level == MUL and last and last_bare) or (alone_bare and len(items) == 1)
            if bare and i < len(exprs) and isinstance(exprs[i], Expr):
                bare = not self.bracketed(exprs[i], followed=not last or followed)  # type: ignore[arg-type]
            out.append(s if bare else self.paren(s))
        return out

    def _chain(self, c: Chain) -> str:
        """A B C, equal neighbours as a power: X X X = X^{3}, X^{-1} X^{-1} = X^{-2}."""
        out: list[str] = []
        fs = c.factors
        i = 0
        while i < len(fs):
            f, k = fs[i], 1
            while isinstance(f, Expr) and i + k < len(fs) and fs[i + k] is f and _groups(f):
                k += 1
            if isinstance(f, Hadamard):
                out.append(self.paren(self._hadamard(f)))
            elif k > 1 and f.op == "inv" and f.args[0].op != "transpose":
                out.append(f"{self.base(f.args[0])}^{{-{k}}}")
            elif k > 1:
                out.append(f"{self.base(f)}^{{{k}}}")
            else:
                out.append(self._factor(f, followed=i + 1 < len(fs)))
            i += k
        return " ".join(out)

    odot = r" \odot "

    def reciprocal(self, divs: list[tuple[Expr, Any]]) -> tuple[list[str], list[tuple[Expr, Any]]]:
        """With no factor to divide, the first divisor as a power C^{∘−1}."""
        (b, q), *rest = divs
        return [self.emit(_power(b, -q))[0]], rest

    def divided(self, b: Expr, q: Any) -> str:
        """`` ⊘ C`` (`` ⊘ C^{∘q}``)."""
        return rf" \oslash {self.wrap(b, MUL + 1) if q == 1 else self.emit(_power(b, q))[0]}"

    def _factor(self, a: Expr, followed: bool = False) -> str:
        """A factor of a matrix product; products need no parentheses: matrix products associate."""
        s, level = self.emit(a)
        bare = (level > MUL or a.op in ("matmul", "solve")) and not self.bracketed(a, followed)
        return s if bare else self.paren(s)

    def _print_power(self, e: Expr) -> tuple[str, int]:
        a, p = e.args[0], e.params[0]
        if e.is_scalar and p < 0:
            return self._print_mul(e)  # \frac{1}{s}
        if e.is_scalar and p == Fraction(1, 2):
            return rf"\sqrt{{{self.emit(a)[0]}}}", ATOM
        circ = "" if e.is_scalar else r"\circ "
        return f"{self.base(a)}^{{{circ}{exponent(p)}}}", POW

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
        """``a`` as the base of a superscript: parenthesised when it binds looser than an atom or has a
        superscript already (no A^{T}^{T}); a norm or a function needs none (‖x‖^{2})."""
        s, p = self.emit(a)
        return self.paren(s) if p < ATOM or _ends_with_superscript(s) or self.bracketed(a, True) else s

    def _print_kron(self, e: Expr) -> tuple[str, int]:
        return " \\otimes ".join(self.wrap(a, MUL + 1) for a in e.args), MUL

    def _print_blocksum(self, e: Expr) -> tuple[str, int]:
        """blocksum(G, A) = Σᵢⱼ Aᵢⱼ Gᵢⱼ over the blocks Gᵢⱼ of G (the VJP of A ⊗ B in B); see :func:`block_notes`."""
        g, a = e.args
        i, j = _indices(e)
        return rf"\sum_{{{i},{j}}} {self.entry(a, i + j)} {self.entry(g, i + j)}", ADD

    def _print_blockdot(self, e: Expr) -> tuple[str, int]:
        """blockdot(G, B)ᵢⱼ = tr(Gᵢⱼᵀ B) over the blocks Gᵢⱼ of G (the VJP of A ⊗ B in A)."""
        g, b = e.args
        i, j = _indices(e)
        return (rf"\left[\operatorname{{tr}}\left({self.entry(g, i + j)}^{{\top}} {self._factor(b)}\right)"
                rf"\right]_{{{i}{j}}}"), ATOM

    def entry(self, a: Expr, sub: str) -> str:
        """``A_{ij}``; ``\\left(A + B\\right)_{ij}`` for anything but a plain name."""
        s = self.emit(a)[0]
        plain = a.op == "symbol" and "_" not in s and "^" not in s
        return f"{s}_{{{sub}}}" if plain else f"{self.paren(s)}_{{{sub}}}"

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


def _groups(f: Expr) -> bool:
    """Whether equal neighbours f f print as a power: X^{2}, (A + B)^{2}, (X^{\top})^{2}, X^{-2}, but not the
    heavier ((A + B)^{-\top})^{2} of a bracketed base under a transpose or an inverse."""
    while f.op in ("transpose", "inv"):
        f = f.args[0]
        if f.op not in ("transpose", "inv", "symbol", "ones", "eye"):
            return False
    return True


def _join(parts: list[str]) -> str:
    """Juxtaposed parts; a dot between a part and one that starts with a digit (2 \\cdot 3, not 23)."""
    s = parts[0] if parts else ""
    for q in parts[1:]:
        s += rf" \cdot {q}" if q[:1].isdigit() else f" {q}"
    return s


def _is_norm1(e: Expr) -> bool:
    a = e.args[0]
    return a.op == "apply" and a.params[0].name == "abs" and (a.shape[0] == ONE or a.shape[1] == ONE)


def _indices(e: Expr) -> tuple[str, str]:
    """Block indices that no symbol of ``e`` is named after: i, j (else k, l; r, s)."""
    names = {s.name for s in e.free_symbols}
    for i, j in (("i", "j"), ("k", "l"), ("r", "s"), ("u", "v")):
        if i not in names and j not in names:
            return i, j
    return "i", "j"


def block_notes(e: Expr) -> list[str]:
    """The ``where`` line of the Kronecker VJPs in ``e``: what Gᵢⱼ, the blocks of G, are."""
    notes: list[str] = []
    for node in iter_nodes([e]):
        if node.op not in ("blocksum", "blockdot"):
            continue
        g = node.args[0]
        i, j = _indices(node)
        block = node.shape if node.op == "blocksum" else node.args[1].shape
        r, c = (sympy.latex(d) for d in block)
        gs = _PRINTER.emit(g)[0]
        note = (rf"{_PRINTER.entry(g, i + j)} \in \mathbb{{R}}^{{{r} \times {c}}} \text{{ is the block }} ({i}, {j})"
                rf" \text{{ of }} {gs}")
        if note not in notes:
            notes.append(note)
    return notes


def _power(b: Expr, q: Any) -> Expr:
    from ..ops.elementwise import power
    return power(b, q)


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
    _PRINTER.clear_if_large()
    if where:
        from .where import name_shared
        (short,), defs = name_shared([e])
        if defs:
            names = [f"{_PRINTER.doprint(n)} = {_PRINTER.doprint(d)}" for n, d in defs]
            body = _PRINTER.doprint(short)
            return rf"{body} \quad \text{{where }} {', '.join(names + block_notes(short))}"
    body = _PRINTER.doprint(e)
    notes = block_notes(e)
    return rf"{body} \quad \text{{where }} {', '.join(notes)}" if notes else body


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
