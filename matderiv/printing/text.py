"""``str(e)``: a one-line numpy-style form (``a @ b.T``, ``inv(X).T``, ``x * y``)."""
from __future__ import annotations

from ..core.expr import ONE, Expr
from .base import ATOM, MUL, NEG, POSTFIX, POW, Printer, coefficient, fmt_number


class TextPrinter(Printer):
    def _print_symbol(self, e: Expr) -> tuple[str, int]:
        return e.name, ATOM

    def _print_const(self, e: Expr) -> tuple[str, int]:
        v = e.params[0]
        return fmt_number(v), (NEG if v < 0 else ATOM)

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

    def _print_mul(self, e: Expr) -> tuple[str, int]:
        c, rest = coefficient(e)
        if rest is None:  # numbers only
            return fmt_number(c), (NEG if c < 0 else ATOM)
        num: list[str] = []
        den: list[str] = []
        for f in (rest.args if rest.op == "mul" else (rest,)):
            if f.op == "power" and f.params[0] < 0:
                p = -f.params[0]
                den.append(self.wrap(f.args[0], POW + 1) + ("" if p == 1 else f"**{fmt_number(p)}"))
            else:
                num.append(self.wrap(f, MUL + 1))
        if len(num) == 1 and not den and rest.op == "matmul":
            num = [self.emit(rest)[0]]  # c * A @ B reads as c (A B): a number commutes with @
        if not num and den and c != 1:
            num, c = [fmt_number(c)], 1
        s = " * ".join(num) if num else "1"
        if den:
            s += "".join(f" / {d}" for d in den)
        single = len(num) == 1 and not den and rest.op not in ("mul", "matmul")
        if c == -1:  # -x binds as a negation; -x * y and -A @ B bind as the product they are
            return f"-{s}", NEG if single else MUL
        if c != 1:
            return f"{fmt_number(c)} * {s}", MUL
        return s, MUL

    def _print_matmul(self, e: Expr) -> tuple[str, int]:
        return " @ ".join(self.wrap(a, MUL + 1) for a in e.args), MUL

    def _print_power(self, e: Expr) -> tuple[str, int]:
        p = e.params[0]
        if p < 0:  # x**-1 reads as 1 / x
            return "1 / " + self.wrap(e.args[0], POW + 1) + ("" if p == -1 else f"**{fmt_number(-p)}"), MUL
        return f"{self.wrap(e.args[0], POW + 1)}**{fmt_number(p)}", POW

    def _print_transpose(self, e: Expr) -> tuple[str, int]:
        return f"{self.wrap(e.args[0], POSTFIX)}.T", POSTFIX

    def _print_apply(self, e: Expr) -> tuple[str, int]:
        return f"{e.params[0].name}({self.emit(e.args[0])[0]})", ATOM


_PRINTER = TextPrinter()


def text(e: Expr) -> str:
    """The one-line numpy-style text of ``e``."""
    if len(_PRINTER._memo) > 50_000:
        _PRINTER._memo.clear()
    return _PRINTER.doprint(e)


Expr.__str__ = text  # type: ignore[assignment,method-assign]  # attached from this layer (the IR knows no printing)
