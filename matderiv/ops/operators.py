"""numpy's operators on expressions — ``@``, ``+``, ``-``, ``*``, ``/``, ``**``, ``.T``, ``abs`` — attached to
:class:`~matderiv.core.expr.Expr` from this layer, as JAX attaches array methods from ``jax.numpy``."""
from __future__ import annotations

from ..core.errors import ArgumentError
from ..core.expr import Expr
from .elementwise import add, apply, divide, mul, neg, power
from .linalg import matmul, transpose


def _operand(x: object, op: str) -> Expr:
    if isinstance(x, Expr):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        raise ArgumentError(f"'{op}' needs two matrix expressions, got the plain number {x!r}; "
                            "use '*' to scale by a number")
    raise ArgumentError(f"'{op}' needs matrix expressions, got {type(x).__name__} {x!r}")


def _attach() -> None:
    E = Expr
    E.T = property(lambda self: transpose(self), doc="Aᵀ.")  # type: ignore[attr-defined]
    E.__matmul__ = lambda self, other: matmul(self, _operand(other, "@"))  # type: ignore[attr-defined]
    E.__rmatmul__ = lambda self, other: matmul(_operand(other, "@"), self)  # type: ignore[attr-defined]
    E.__add__ = lambda self, other: add(self, other)  # type: ignore[attr-defined]
    E.__radd__ = lambda self, other: add(other, self)  # type: ignore[attr-defined]
    E.__sub__ = lambda self, other: add(self, neg(other))  # type: ignore[attr-defined]
    E.__rsub__ = lambda self, other: add(other, neg(self))  # type: ignore[attr-defined]
    E.__neg__ = lambda self: neg(self)  # type: ignore[attr-defined]
    E.__pos__ = lambda self: self  # type: ignore[attr-defined]
    E.__mul__ = lambda self, other: mul(self, other)  # type: ignore[attr-defined]
    E.__rmul__ = lambda self, other: mul(other, self)  # type: ignore[attr-defined]
    E.__abs__ = lambda self: apply("abs", self)  # type: ignore[attr-defined]
    E.__truediv__ = lambda self, other: divide(self, other)  # type: ignore[attr-defined]
    E.__rtruediv__ = lambda self, other: divide(other, self)  # type: ignore[attr-defined]
    E.__pow__ = lambda self, other: power(self, other)  # type: ignore[attr-defined]
    E.__rpow__ = lambda self, other: power(other, self)  # type: ignore[attr-defined]
    E.__array_ufunc__ = None  # type: ignore[attr-defined]  # numpy scalars defer: np.float64(2) * X is an Expr


_attach()
