"""``str(e)``: a one-line numpy-style form (``a @ b.T``, ``inv(X).T``, ``x * y``)."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..core.expr import ONE, Expr
from .base import ADD, ATOM, MUL, NEG, POSTFIX, POW, Chain, Hadamard, Printer, fmt_number, scalar_rank, split_product


class TextPrinter(Printer):
    def _print_symbol(self, e: Expr) -> tuple[str, int]:
        return e.name, ATOM

    def _const_shape(self, name: str, e: Expr) -> tuple[str, int]:
        n, m = e.shape
        if name == "eye":
            return f"eye({n})", ATOM
        if m == ONE:
            return f"{name}({n})", ATOM
        if n == ONE:
            return f"{name}({m}).T", POSTFIX
        return f"{name}({n}, {m})", ATOM

    def _print_ones(self, e: Expr) -> tuple[str, int]:
        return self._const_shape("ones", e)

    def _print_zeros(self, e: Expr) -> tuple[str, int]:
        return self._const_shape("zeros", e)

    def _print_eye(self, e: Expr) -> tuple[str, int]:
        return self._const_shape("eye", e)

    def number(self, v: Any) -> str:
        """As Python writes it: ``0.5``, ``(1/3)``, ``1e-5``."""
        return fmt_number(v)

    def _print_const(self, e: Expr) -> tuple[str, int]:
        v = e.params[0]
        return self.number(v), (NEG if v < 0 else ATOM)

    def _print_mul(self, e: Expr) -> tuple[str, int]:
        """c * s * core / d: numbers and scalar factors lead (``0.5 * x.T @ A @ x``), a fraction's denominator
        divides (``2 * x / 3``), and brackets stand only where Python would read the text otherwise."""
        p = split_product(e, opened=self._opened)
        c = p.coeff
        if c == 0:
            return "0", ATOM
        sign, c = ("-", -c) if c < 0 else ("", c)
        den = [self.divided(b, q)[3:] for b, q in p.den]
        if isinstance(c, Fraction) and self.number(c).startswith("("):  # 2/3: 2 * x / 3
            den.insert(0, str(c.denominator))
            c = c.numerator
        scalars = sorted(((self._core(f), f) for f in p.scalars), key=lambda t: scalar_rank(t[1], t[0][1]))
        if isinstance(p.core, Hadamard) and not p.core.factors and (c != 1 or scalars):  # 2 / y, not 2 * 1 / y
            den += [self.divided(b, q)[3:] for b, q in p.core.divisors]
            p.core = None
        core = self._core(p.core) if p.core is not None else None
        items = [t[0] for t in scalars] + ([core] if core is not None else [])
        parts = [self.number(c)] if c != 1 or not items else []
        for i, (s, level) in enumerate(items):
            last = i == len(items) - 1
            parts.append(s if level > MUL or level == MUL and last else self.paren(s))
        out = " * ".join(parts) + "".join(f" / {d}" for d in den)
        if c == 1 and not den and len(items) == 1:  # one factor: it binds as itself (-x is a negation)
            s, level = items[0]
            if not sign:
                return s, level
            return (sign + s, NEG) if level > MUL else (sign + (s if level == MUL else self.paren(s)), MUL)
        return sign + out, MUL

    _print_matmul = _print_mul

    def _chain(self, c: Chain) -> str:
        """A @ B @ C; a leading 𝟏ᵀ or a trailing 𝟏 is a sum along an axis: sum(X, axis=0), sum(X, axis=1)."""
        fs = list(c.factors)
        axis = None
        if len(fs) > 1 and _ones(fs[0], row=True):
            fs, axis = fs[1:], 0
        if len(fs) > 1 and _ones(fs[-1], row=False):
            fs, axis = fs[:-1], (1 if axis is None else "all")
        body = " @ ".join(self.paren(self._hadamard(f)) if isinstance(f, Hadamard) else self.wrap(f, MUL + 1)
                          for f in fs)
        if axis is None:
            return body
        if len(fs) == 1:  # sum(X * Y, axis=0)
            body = self._hadamard(fs[0]) if isinstance(fs[0], Hadamard) else self.emit(fs[0])[0]
        if axis == "all":
            return f"sum({body})"
        if len(fs) == 1 and isinstance(fs[0], Expr) and fs[0].op == "transpose":  # sum(G.T, axis=1) = sum(G, axis=0).T
            return f"sum({self.emit(fs[0].args[0])[0]}, axis={1 - axis}).T"
        return f"sum({body}, axis={axis})"

    def _print_power(self, e: Expr) -> tuple[str, int]:
        p = e.params[0]
        if p < 0:  # x**-1 reads as 1 / x
            return "1 / " + self.wrap(e.args[0], POW + 1) + ("" if p == -1 else f"**{self.number(-p)}"), MUL
        return f"{self.wrap(e.args[0], POW + 1)}**{self.number(p)}", POW

    def _print_transpose(self, e: Expr) -> tuple[str, int]:
        return f"{self.wrap(e.args[0], POSTFIX)}.T", POSTFIX

    def _print_apply(self, e: Expr) -> tuple[str, int]:
        return f"{e.params[0].name}({self.emit(e.args[0])[0]})", ATOM


def _ones(f: Expr | Hadamard, row: bool) -> bool:
    """Whether ``f`` is the ones row 𝟏ᵀ (``row``) or the ones column 𝟏."""
    return isinstance(f, Expr) and f.op == "ones" and (f.shape[0] == ONE if row else f.shape[1] == ONE)


_PRINTER = TextPrinter()


def text(e: Expr) -> str:
    """The one-line numpy-style text of ``e``."""
    _PRINTER.clear_if_large()
    return _PRINTER.doprint(e)


Expr.__str__ = text  # type: ignore[assignment,method-assign]  # attached from this layer (the IR knows no printing)
