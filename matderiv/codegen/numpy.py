"""The NumPy backend: the IR lowered (:mod:`.lower`) to what numpy computes well, then printed one statement per
shared value.

* :class:`NumPyPrinter` prints a lowered node from its arguments' code: its own ``_print_<op>`` for the lowering's
  node kinds and the few ops printed specially (``add``, ``mul``, ``dot``, ``solve``, ``inv``, …), and for every
  other op the op's ``numpy=`` field (:class:`matderiv.core.spec.Op`): a template such as
  ``"{xp}.diag({0})"`` or a callable ``(printer, node) -> (code, binding strength)`` using the helpers below.
  The module alias is the class attribute :attr:`~NumPyPrinter.alias`: a backend for another array library with
  numpy's API (cupy, jax.numpy) is a subclass setting ``module`` and ``alias`` and overriding what differs.
* :class:`NumPyFunction` assembles the function: argument conversion and shape checks (planned by
  :class:`matderiv.codegen.args.Arguments`), dimension bindings and keyword dimensions, one temporary per value
  used twice (in topological order), and the return statement.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import sympy
from sympy.printing.numpy import NumPyPrinter as _SymPyNumPyPrinter
from sympy.printing.numpy import SciPyPrinter as _SymPySciPyPrinter

from ..core.errors import ArgumentError, ShapeError
from ..core.expr import OPS, Expr
from ..core.functions import NAMED, Fn
from ..core.functions import x as _X
from ..printing.base import ADD, ATOM, MUL, NEG, POW
from .args import PHRASE, Arguments, call_with_dims
from .common import (Canonical, Names, function_name, number_code, outputs_of, reserved, resolve_args,
                     use_counts)
from .lower import SPECIAL, Lowering, Node, Shape, kind_of
from .stable import SECH2, stable

_LONG = 100  # inline code longer than this gets a temporary of its own
Code = tuple[str, int]


# ---- elementwise functions via SymPy --------------------------------------------------------------------------------
_SLOT = "\x00"  # the argument x
_XP = "\x01"  # the array module's alias and a dot ("np.")


def _scipy_special() -> bool:
    """Whether scipy.special can be imported here (then the generated code may use it for erf, gamma, …)."""
    try:
        import scipy.special  # noqa: F401
    except ImportError:
        return False
    return True


class _FnMixin:
    """Prints ``x`` as the slot and numpy's functions with the alias slot; numpy's ``abs``/``maximum``/``minimum``
    for Abs/Max/Min. Without scipy, a function only Python's math module has is vectorised (``np.vectorize``)."""

    vectorize_math = False

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return _SLOT if expr == _X else super()._print_Symbol(expr)  # type: ignore[misc]

    def _module_format(self, fqn: str, register: bool = True) -> str:
        s: str = super()._module_format(fqn, register)  # type: ignore[misc]
        if s == "scipy.constants.pi":  # SciPy's printer writes π from scipy.constants; numpy has it
            return _XP + "pi"
        if s.startswith("numpy."):
            return _XP + s[len("numpy."):]
        if s.startswith("math.") and self.vectorize_math:
            return f"{_XP}vectorize({s}, otypes=[float])"
        return s

    def _print_Abs(self, expr: sympy.Expr) -> str:
        return f"{self._module_format('numpy.abs')}({self._print(expr.args[0])})"  # type: ignore[attr-defined]

    def _minmax(self, expr: sympy.Expr, fn: str) -> str:
        args = [self._print(a) for a in expr.args]  # type: ignore[attr-defined]
        out = args[-1]
        for a in reversed(args[:-1]):
            out = f"{self._module_format(fn)}({a}, {out})"
        return out

    def _print_Max(self, expr: sympy.Expr) -> str:
        return self._minmax(expr, "numpy.maximum")

    def _print_Min(self, expr: sympy.Expr) -> str:
        return self._minmax(expr, "numpy.minimum")


class _FnPrinter(_FnMixin, _SymPyNumPyPrinter):
    """SymPy's NumPy printer (math-only functions vectorised unless ``vectorize`` is off): the generated code
    needs numpy alone."""

    def __init__(self, vectorize: bool = True) -> None:
        super().__init__({"fully_qualified_modules": True})
        self.vectorize_math = vectorize


class _FnSciPyPrinter(_FnMixin, _SymPySciPyPrinter):
    """SymPy's SciPy printer: special functions from ``scipy.special`` (imported by the generated code)."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True})


# step(x) = 1 for x > 0 else 0: a comparison is 6× faster than np.heaviside(x, 0.0) and gives the same numbers.
_STEP = (f"{_XP}greater({_SLOT}, 0.0).astype({_XP}float64)", 1, True, True, ())
# σ(x) = 1/(1 + e^{−x}) with the exponent capped at 709 (e^{709} < the largest float64): relative accuracy of a few
# ulps wherever σ(x) is a normal float64 (0.5 + 0.5 tanh(x/2) loses all digits of σ(−30) = 9.4·10⁻¹⁴ to
# cancellation), no overflow anywhere (below x = −709 it gives 1.2·10⁻³⁰⁸, within 1.2·10⁻³⁰⁸ of the true value),
# and 4× faster than exp(−logaddexp(0, −x)).
_SIGMOID = (f"1 / (1 + {_XP}exp({_XP}minimum(-{_SLOT}, 709.0)))", 1, False, False, ())
_TEMPLATES: dict[tuple[Fn, str], tuple[str, int, bool, bool, tuple[str, ...]]] = {}


def _atomic(code: str) -> bool:
    """Whether ``code`` is a name, a call or a parenthesised whole (needs no parentheses around it)."""
    m = re.match(r"[A-Za-z_\x01][\w.\x01]*", code)
    i = m.end() if m else 0
    if i == len(code):
        return True
    if code[i] != "(":
        return False
    depth = 0
    for j in range(i, len(code)):
        depth += {"(": 1, ")": -1}.get(code[j], 0)
        if depth == 0:
            return j == len(code) - 1
    return False


def fn_template(fn: Fn) -> tuple[str, int, bool, bool, tuple[str, ...]]:
    """``(template, uses of x, atomic, bare, imports)``: fn's body printed by SymPy with a slot for x and one for
    the array module's alias; ``atomic``: the code needs no parentheses; ``bare``: x only appears as a whole
    argument of calls; ``imports``: the modules the code needs besides the array module (``scipy.special`` for
    erf, gamma, … when scipy is installed, else ``math``, whose functions are then vectorised)."""
    if fn == NAMED["step"]:
        return _STEP
    if fn == NAMED["sigmoid"]:
        return _SIGMOID
    t = _TEMPLATES.get((fn, "numpy"))
    if t is not None:
        return t
    try:  # numpy alone, if it has every function of the body
        code, modules = _print_fn(fn, _FnPrinter(vectorize=False))
        if modules <= {"numpy"}:
            t = _TEMPLATES[(fn, "numpy")] = _template(fn, code, modules)
            return t
    except Exception:  # SymPy raises PrintMethodNotImplementedError (and others) for unknown functions
        pass
    way = "scipy" if _scipy_special() else "math"  # asked only now: importing scipy takes a while
    t = _TEMPLATES.get((fn, way))
    if t is None:
        try:
            code, modules = _print_fn(fn, _FnSciPyPrinter() if way == "scipy" else _FnPrinter())
        except Exception as exc:
            raise ArgumentError(f"elementwise function {fn.name!r} (x ↦ {fn.body}) cannot be written with numpy"
                                f"{'' if way == 'scipy' else ' (scipy is not installed)'}: "
                                f"{str(exc).splitlines()[0]}") from None
        t = _TEMPLATES[(fn, way)] = _template(fn, code, modules)
    return t


def _print_fn(fn: Fn, p: _FnMixin) -> tuple[str, set[str]]:
    """fn's body printed by ``p``, and the modules the code uses."""
    code: str = p.doprint(fn.body)  # type: ignore[attr-defined]
    return code, set(p.module_imports)  # type: ignore[attr-defined]


def _template(fn: Fn, code: str, modules: set[str]) -> tuple[str, int, bool, bool, tuple[str, ...]]:
    """The template of printed code: a constant body filled to x's shape, and what :func:`fn_template` says."""
    modules = modules - {"numpy"}
    unknown = sorted(modules - {"scipy.special", "scipy.constants", "math"})
    if unknown:
        raise ArgumentError(f"elementwise function {fn.name!r} (x ↦ {fn.body}) needs {', '.join(unknown)}, "
                            "which the numpy code cannot use elementwise")
    if _SLOT not in code:  # a constant body (an irrational number): one value per entry of x
        code = f"{_XP}full({_XP}shape({_SLOT}), {code})"
    bare = len(re.findall(rf"(?:\(|, ){_SLOT}(?=[,)])", code)) == code.count(_SLOT)
    imports = tuple(f"import {m}" for m in sorted(modules))
    return code, code.count(_SLOT), _atomic(code), bare, imports


# ---- printing --------------------------------------------------------------------------------------------------------
_SIMPLE = re.compile(r"^(?:[A-Za-z_]\w*(?:\.T|\[:, None\])?|-?[\d.]+(?:e-?\d+)?)$")
_TRIVIAL = frozenset({"arg", "num", "dim", "T", "bcast", "vec"})


#: The ways several solves with one matrix share its factorisation (:attr:`NumPyPrinter.lu`).
LU_CHOICES = ("numpy", "scipy")


class NumPyPrinter:
    """Prints lowered nodes in topological order; :meth:`emit` dispatches to ``_print_<op>`` or to the op's
    ``numpy=`` emitter, which return ``(code, binding strength)`` and may ask for an argument by name
    (:meth:`name`) or for a helper statement (:meth:`aux`).

    The helper API the ops' emitters use: :meth:`code`, :meth:`atom`, :meth:`name`, :meth:`aux`, :meth:`plain`,
    :meth:`unary`, :meth:`as2d`, :meth:`from2d`, :meth:`fmt` and the binding strengths ``ADD``, ``MUL``, ``ATOM``.
    """

    #: The array module and the alias the generated code imports it as; ``{xp}`` in emitters is the alias.
    module = "numpy"
    alias = "np"
    #: Where the generated code takes special functions (erf, gamma, …) from when scipy is installed.
    special = "scipy.special"
    #: How several solves with one matrix share its factorisation: ``"numpy"`` (the default: the generated code
    #: imports numpy alone; solves with one matrix and orientation are one ``np.linalg.solve`` of the right-hand
    #: sides side by side) or ``"scipy"`` (the matrix is LU-factorised once with ``lu_factor`` from
    #: :attr:`lu_module`, which the code then imports, and every solve with it, in either orientation, uses the
    #: factors). ``numpy_code(..., lu=...)`` and ``lambdify(..., lu=...)`` choose per call.
    lu = "numpy"
    #: Where ``lu_factor``/``lu_solve`` come from for ``lu="scipy"`` (None: the backend has none).
    lu_module: str | None = "scipy.linalg"
    #: Nodes whose code is a read-only view: returned as a copy.
    VIEWS = frozenset({"full", "diagpart"})
    ADD, MUL, NEG, POW, ATOM = ADD, MUL, NEG, POW, ATOM

    def __init__(self, names: Names, dims: Arguments) -> None:
        self.names = names
        self.dims = dims
        self.lines: list[str] = []
        self.codes: dict[Node, Code] = {}
        self.bound: set[Node] = set()
        self.imports: set[str] = set()  # extra modules the code needs (scipy.special, math)

    # -- the module --
    @classmethod
    def import_line(cls) -> str:
        """The generated module's import of the array module."""
        return f"import {cls.module} as {cls.alias}"

    @classmethod
    def reserved(cls) -> frozenset[str]:
        """Identifiers a parameter must not take: the modules the code may import, builtins, keywords."""
        return reserved(cls.alias, cls.module.split(".")[0], "numpy", "scipy", "math")

    @classmethod
    def globals_used(cls) -> frozenset[str]:
        """The global names the generated code uses: the function itself must not be called one of these."""
        return frozenset({cls.alias, cls.module.split(".")[0], "numpy", "scipy", "math", "float", "int",
                          "ValueError"})

    @classmethod
    def lu_choice(cls, lu: str | None = None) -> str | None:
        """The module the generated code takes ``lu_factor``/``lu_solve`` from for ``lu`` (None: the printer's
        :attr:`lu`), or None for numpy alone. Raises ArgumentError for an unknown ``lu`` or ``"scipy"`` on a
        printer without :attr:`lu_module`."""
        way = cls.lu if lu is None else lu
        if way not in LU_CHOICES:
            raise ArgumentError(f"lu must be one of {', '.join(map(repr, LU_CHOICES))}, got {way!r}")
        if way == "numpy":
            return None
        if cls.lu_module is None:
            raise ArgumentError(f"lu='scipy': the printer {cls.__name__} has no lu_module to take lu_factor from")
        return cls.lu_module

    # -- dispatch --
    def emit(self, n: Node) -> Code:
        """The code of ``n``: the printer's ``_print_<op>``, else the op's ``numpy=`` emitter."""
        method: Callable[[Node], Code] | None = getattr(self, f"_print_{n.op}", None)
        if method is not None:
            return method(n)
        op = OPS.get(n.op)
        emitter = op.numpy if op is not None else None
        if emitter is None:
            raise NotImplementedError(f"{type(self).__name__} cannot print '{n.op}': its op has no numpy= emitter "
                                      f"and the printer no _print_{n.op}")
        if isinstance(emitter, str):
            return self.template(n, emitter)
        out = emitter(self, n)
        return (out, ATOM if _atomic(out) else ADD) if isinstance(out, str) else out

    def template(self, n: Node, template: str) -> Code:
        """A template emitter: ``{xp}`` is the module alias, ``{0}``, ``{1}``, … the arguments' code (bare where
        the slot is a whole argument of a call, else parenthesised as needed)."""
        out = self.fmt(template)
        for i, a in enumerate(n.args):
            slot = "{" + str(i) + "}"
            bare = len(re.findall(rf"(?:\(|, ){re.escape(slot)}(?=[,)])", out)) == out.count(slot)
            out = out.replace(slot, self.code(a)[0] if bare else self.atom(a))
        return out, ATOM if _atomic(out) else ADD

    # -- helpers for emitters --
    def fmt(self, code: str) -> str:
        """``code`` with ``{xp}`` replaced by the module alias."""
        return code.replace("{xp}", self.alias)

    def code(self, n: Node) -> Code:
        """The code of an argument node and its binding strength."""
        return self.codes[n]

    @staticmethod
    def wrap(c: Code, level: int) -> str:
        """The code, parenthesised when it binds looser than ``level``."""
        return c[0] if c[1] >= level else f"({c[0]})"

    def atom(self, n: Node) -> str:
        """``n``'s code as an atom (parenthesised unless it is one)."""
        return self.wrap(self.code(n), ATOM)

    def ew(self, n: Node, parent: Node) -> Code:
        """``n`` as an operand of the elementwise ``parent``: a lazy column in a full result is ``c[:, None]``."""
        if n.lazy == "cols" and not parent.lazy:
            return f"{self.atom(n)}[:, None]", ATOM
        return self.code(n)

    def bind(self, n: Node, code: str) -> str:
        name = self.aux(code)
        self.codes[n] = (name, ATOM)
        self.bound.add(n)
        return name

    def aux(self, code: str) -> str:
        """A helper statement ``t = code``; returns the temporary's name."""
        name = self.names.temp()
        self.lines.append(f"{name} = {code}")
        return name

    def name(self, n: Node) -> str:
        """``n``'s code, bound to a temporary first unless it is a name (or a view of one, or a number)."""
        c = self.code(n)[0]
        return c if _SIMPLE.match(c) else self.bind(n, c)

    def plain(self, n: Node) -> Node:
        """``n`` without a transpose, for functions that ignore one (trace, det, sum, norm, diagonal)."""
        return n.args[0] if n.op == "T" else n

    def unary(self, n: Node, template: str, of_scalar: str) -> Code:
        """A function of one argument: ``template`` of it (``{xp}.trace({0})``), or ``of_scalar`` of a 1×1
        argument (``{0}``: the argument itself). A transpose of the argument is dropped when the op is invariant
        under transposition (tr, det, ‖·‖)."""
        (a,) = n.args
        op = OPS.get(n.op)
        if op is not None and op.transpose == "invariant":
            a = self.plain(a)
        if a.kind == "s":
            if of_scalar == "{0}":
                return self.code(a)
            return self.fmt(of_scalar).replace("{0}", self.code(a)[0]), ATOM
        return self.fmt(template).replace("{0}", self.code(a)[0]), ATOM

    def tcode(self, n: Node) -> str:
        """The code of nᵀ for a matrix node."""
        if n.op == "T":
            return self.code(n.args[0])[0]
        return f"{self.atom(n)}.T" if n.kind == "m" else self.code(n)[0]

    def dimcode(self, d: sympy.Expr) -> str:
        """A dimension's code: a number, a dimension read from an argument, or a keyword parameter."""
        return self.dims.dim_code(d)

    def shape_code(self, shape: Shape) -> str:
        kind = kind_of(shape)
        if kind == "c":
            return self.dimcode(shape[0])
        if kind == "r":
            return self.dimcode(shape[1])
        return f"({self.dimcode(shape[0])}, {self.dimcode(shape[1])})"

    def as2d(self, code: str, kind: str) -> str:
        """An argument of the given kind as a 2-D array (vectors n×1 or 1×m, scalars 1×1)."""
        return {"s": f"{self.alias}.full((1, 1), {code})", "c": f"{code}[:, None]",
                "r": f"{code}[None, :]"}.get(kind, code)

    def from2d(self, code: str, kind: str) -> Code:
        """A 2-D result as the node's natural value (vectors 1-D, scalars a number)."""
        if kind == "s":
            return f"{code}[0, 0]", ATOM
        return (f"{code}.ravel()" if kind in "cr" else code), ATOM

    # -- leaves and views --
    def _print_arg(self, n: Node) -> Code:
        return n.params[0], ATOM

    def _print_num(self, n: Node) -> Code:
        v = n.params[0]
        return number_code(v), (NEG if v < 0 else ATOM)

    def _print_dim(self, n: Node) -> Code:
        return self.dimcode(n.params[0]), ATOM

    def _print_fill(self, n: Node) -> Code:
        return f"{self.alias}.{'ones' if n.params[0] else 'zeros'}({self.shape_code(n.shape)})", ATOM

    def _print_eye(self, n: Node) -> Code:
        return f"{self.alias}.eye({self.dimcode(n.shape[0])})", ATOM

    def _print_T(self, n: Node) -> Code:
        (a,) = n.args
        if a.kind != "m" or a.lazy:
            return self.code(a)  # a 1-D array is its own transpose
        return f"{self.atom(a)}.T", ATOM

    def _print_bcast(self, n: Node) -> Code:
        return self.code(n.args[0])

    def _print_vec(self, n: Node) -> Code:
        return self.code(n.args[0])

    def _print_full(self, n: Node) -> Code:
        (a,) = n.args
        src = self.code(a)[0] if a.lazy == "rows" else f"{self.atom(a)}[:, None]"
        return f"{self.alias}.broadcast_to({src}, {self.shape_code(n.shape)})", ATOM

    # -- elementwise --
    def _inline(self, a: Node, parent: Node) -> bool:
        """Whether ``a``'s own form may be rewritten inside ``parent``'s code (a − b instead of a + -1 * b)."""
        return a not in self.bound and (a.lazy == parent.lazy or a.lazy != "cols")

    def _print_add(self, n: Node) -> Code:
        out = ""
        for i, a in enumerate(n.args):
            neg: str | None = None
            if a.op == "num" and a.params[0] < 0 and i > 0:
                neg = number_code(-a.params[0])
            elif a.op == "mul" and i > 0 and self._inline(a, n):
                coef = 1
                for f in a.args:
                    if f.op == "num":
                        coef *= f.params[0]
                if coef < 0:
                    neg = self.wrap(self._mul(a, flip=True), MUL)
            if neg is not None:
                out += f" - {neg}"
            else:
                s = self.wrap(self.ew(a, n), ADD + 1) if i > 0 else self.ew(a, n)[0]
                out += f" + {s}" if i else s
        return out, ADD

    def _print_mul(self, n: Node) -> Code:
        return self._mul(n)

    def _mul(self, n: Node, flip: bool = False) -> Code:
        coef: float = -1 if flip else 1
        num: list[Node] = []
        den: list[str] = []
        for a in n.args:
            if a.op == "num":
                coef *= a.params[0]
            elif a.op == "power" and a.params[0] < 0 and self._inline(a, n):
                base = self.ew(a.args[0], a)
                p = -a.params[0]
                den.append(self.wrap(base, MUL + 1) if p == 1 else f"{self.alias}.sqrt({base[0]})" if p == 0.5
                           else f"{self.wrap(base, POW + 1)}**{number_code(p)}")
            else:
                num.append(a)
        num.sort(key=lambda a: 0 if a.kind == "s" else 1 if (a.kind != "m" or a.lazy) else 2)
        if coef == int(coef):
            coef = int(coef)
        factors = [self.ew(a, n) for a in num]
        if not factors:
            s = number_code(coef)
            return (s + "".join(f" / {d}" for d in den), MUL) if den else (s, NEG if coef < 0 else ATOM)
        if coef == -1:
            first = self.wrap(factors[0], NEG)
            prec = NEG if len(factors) == 1 and not den else MUL
            s = "-" + first
        else:
            first = self.wrap(factors[0], MUL + 1) if len(factors) + len(den) > 1 else factors[0][0]
            s = first if coef == 1 else f"{number_code(coef)} * {self.wrap(factors[0], MUL + 1)}"
            prec = factors[0][1] if coef == 1 and len(factors) == 1 and not den else MUL
        s += "".join(f" * {self.wrap(f, MUL + 1)}" for f in factors[1:]) + "".join(f" / {d}" for d in den)
        return s, prec

    def _print_power(self, n: Node) -> Code:
        base = self.ew(n.args[0], n)
        p = n.params[0]
        if p == 0.5:
            return f"{self.alias}.sqrt({base[0]})", ATOM
        if p == -1:
            return f"1 / {self.wrap(base, MUL + 1)}", MUL
        if p == -0.5:
            return f"1 / {self.alias}.sqrt({base[0]})", MUL
        return f"{self.wrap(base, POW + 1)}**{number_code(p)}", POW

    def _print_apply(self, n: Node) -> Code:
        (a,) = n.args
        template, uses, atomic, bare, imports = fn_template(n.params[0])
        if self.special != "scipy.special":
            template = template.replace("scipy.special.", self.special + ".")
            imports = tuple(i.replace("scipy.special", self.special) for i in imports)
        self.imports.update(imports)
        arg = self.ew(a, n)
        if n.params[0] == NAMED["sigmoid"] and a.op == "mul" and self._inline(a, n) and any(
                f.op == "num" and f.params[0] < 0 for f in a.args):  # σ(−u) = 1/(1 + e^{min(u, 709)})
            neg = self._mul(a, flip=True)
            return f"1 / (1 + {self.alias}.exp({self.alias}.minimum({neg[0]}, 709.0)))", MUL
        if n.params[0] == SECH2:  # sech² u = 4t/(1 + t)², t = e^{−2|u|}
            t = self.aux(f"{self.alias}.exp(-2 * {self.alias}.abs({arg[0]}))")
            return f"4 * {t} / (1 + {t})**2", MUL
        if uses > 1 and not _SIMPLE.match(arg[0]):
            self.name(a)
            arg = self.ew(a, n)
        code = template.replace(_XP, self.alias + ".").replace(_SLOT, arg[0] if bare else self.wrap(arg, ATOM))
        return code, (ATOM if atomic else ADD)

    # -- products --
    def _print_dot(self, n: Node) -> Code:
        left, right = n.args
        lc = self.code(left)
        lc_s = lc[0] if left.op == "dot" and left not in self.bound else self.wrap(lc, MUL + 1)
        return f"{lc_s} @ {self.wrap(self.code(right), MUL + 1)}", MUL

    def _print_outer(self, n: Node) -> Code:
        return f"{self.alias}.outer({self.code(n.args[0])[0]}, {self.code(n.args[1])[0]})", ATOM

    def _print_sumaxis(self, n: Node) -> Code:
        (a,), axis = n.args, n.params[0]
        if a.op == "T" and a.args[0].kind == "m" and not a.args[0].lazy:
            a, axis = a.args[0], 1 - axis
        return f"{self.atom(a)}.sum(axis={axis})", ATOM

    def _print_sumall(self, n: Node) -> Code:
        a = self.plain(n.args[0])
        return (self.code(a) if a.kind == "s" else (f"{self.atom(a)}.sum()", ATOM))

    def _print_solve(self, n: Node) -> Code:
        a, b = n.args
        if a.kind == "s":
            return f"{self.wrap(self.code(b), MUL)} / {self.wrap(self.code(a), MUL + 1)}", MUL
        return f"{self.alias}.linalg.solve({self.code(a)[0]}, {self.code(b)[0]})", ATOM

    def _print_colstack(self, n: Node) -> Code:
        """Right-hand sides side by side (columns and matrices), for one solve of them all."""
        return f"{self.alias}.column_stack(({', '.join(self.code(a)[0] for a in n.args)}))", ATOM

    def _print_colpart(self, n: Node) -> Code:
        """One right-hand side's columns of a solve of several: ``t[:, i]`` (a vector), ``t[:, i:j]``."""
        start, width, vector = n.params
        a = self.atom(n.args[0])

        def index(d: sympy.Expr) -> str:  # a subscript needs no parentheses around k + 1
            c = self.dimcode(d)
            return c[1:-1] if c.startswith("(") and c.endswith(")") and not d.is_Integer else c
        if vector:
            return f"{a}[:, {index(start)}]", ATOM
        return f"{a}[:, {index(start) if start != 0 else ''}:{index(start + width)}]", ATOM

    def _print_lu(self, n: Node) -> Code:
        """The LU factors of a matrix several solves use (``scipy.linalg.lu_factor``), computed once."""
        self.imports.add(f"import {self.lu_module}")
        return f"{self.lu_module}.lu_factor({self.code(n.args[0])[0]}, check_finite=False)", ATOM

    def _print_lusolve(self, n: Node) -> Code:
        """A⁻¹B (``trans`` 0) or A⁻ᵀB (1) with A's LU factors."""
        lu, b = n.args
        trans = ", trans=1" if n.params[0] else ""
        return f"{self.lu_module}.lu_solve({self.code(lu)[0]}, {self.code(b)[0]}{trans}, check_finite=False)", ATOM

    def _print_rsolve(self, n: Node) -> Code:
        left, a = n.args
        if left.kind in "sr":
            return f"{self.alias}.linalg.solve({self.tcode(a)}, {self.code(left)[0]})", ATOM
        return f"{self.alias}.linalg.solve({self.tcode(a)}, {self.tcode(left)}).T", ATOM


# ---- the function ----------------------------------------------------------------------------------------------------
def _array_text(shape: Shape) -> str:
    k = kind_of(shape)
    return {"s": "float", "c": f"({shape[0]},)", "r": f"({shape[1]},)"}.get(k, f"({shape[0]}, {shape[1]})")


class NumPyFunction:
    """The source of ``name(*params)`` returning ``outputs`` (a tuple when ``many``), printed by ``printer``;
    ``lu``: how solves share a factorisation (:attr:`NumPyPrinter.lu`; None: the printer's)."""

    def __init__(self, outputs: Sequence[Expr], params: Sequence[Expr], name: str, many: bool,
                 printer: type[NumPyPrinter] = NumPyPrinter, lu: str | None = None) -> None:
        self.outputs, self.params, self.name, self.many = list(outputs), list(params), name, many
        self.lu_module = printer.lu_choice(lu)  # None: numpy alone
        self.computed = [stable(e) for e in self.outputs]  # what the code evaluates: the same values, stably
        self.printer = printer
        self.names = Names(printer.reserved())
        self.names.taken.add(name)
        self.args = Arguments(self.params, self.names, outputs=self.outputs)
        self.pnames = self.args.pnames
        self._check_lines: set[int] = set()
        self._arg_lines: dict[int, str] = {}
        self._dim_lines: set[int] = set()
        self._source: str | None = None

    @property
    def keywords(self) -> dict[str, str]:
        """The keyword dimensions of the function: dimension name → parameter identifier."""
        self.source()
        return self.args.keyword_names()

    # -- the parts --
    def _header(self) -> list[tuple[str, str, str]]:
        """``(line, role, argument)``: keyword dimensions checked, the arguments converted and their shapes
        checked, dimensions bound."""
        out: list[tuple[str, str, str]] = []
        f = f"{self.name}()"
        xp = self.printer.alias
        dims = self.args

        def check(cond: str, msg: str, values: str, role: str = "check") -> None:
            out.append((f"if {cond}:", "", ""))
            out.append((f"    raise ValueError({msg!r} % ({values}))", role, ""))

        for d, k in dims.keywords.items():
            check(f"{k} != int({k}) or {k} < 1", f"{f}: dimension {d.name} must be a positive integer, got %r",
                  f"{k},", "dimension")
            out.append((f"{k} = int({k})", "", ""))
        for p in self.params:
            v, u, kind = self.pnames[p], p.name, kind_of(p.shape)
            out.append((f"{v} = {xp}.asarray({v}, dtype={xp}.float64)", "convert", u))
            got = "got an array of shape %s"
            if kind == "s":
                check(f"{v}.size != 1", f"{f}: argument {u!r} must be a number, {got}", f"{v}.shape,")
                out.append((f"{v} = {v}.flat[0]", "", ""))
            elif kind in "cr":  # n×1 and 1×n arrays are accepted for a vector
                length = p.shape[0] if kind == "c" else p.shape[1]
                out.append((f"if {v}.ndim == 2 and 1 in {v}.shape:", "", ""))
                out.append((f"    {v} = {v}.ravel()", "", ""))
                check(f"{v}.ndim != 1", f"{f}: argument {u!r} must be a 1-D array of length {length}, {got}",
                      f"{v}.shape,")
            else:
                check(f"{v}.ndim != 2", f"{f}: argument {u!r} must be a 2-D array of shape "
                      f"({p.shape[0]}, {p.shape[1]}), {got}", f"{v}.shape,")
            for use in dims.uses(p):
                axis = f"{v}.shape[{use.axis}]"
                d = use.dim
                if dims.is_binding(use):
                    out.append((f"{dims.dim_names[d]} = {axis}", "", ""))
                elif d.is_Integer:
                    check(f"{axis} != {int(d)}", f"{f}: argument {u!r} has shape %s, but {PHRASE[use.what]} must "
                          f"be {int(d)}", f"{v}.shape,")
        for use in dims.checks:
            d, p = use.dim, use.param
            if d.is_Integer or not dims.known(d):
                continue
            v, u = self.pnames[p], p.name
            exp = dims.dim_code(d)
            src = dims.source_of(d) if isinstance(d, sympy.Symbol) else ""
            if not src and isinstance(d, sympy.Symbol) and d in dims.keywords:
                src = "the keyword argument"
            check(f"{v}.shape[{use.axis}] != {exp}", f"{f}: argument {u!r} has shape %s, but {PHRASE[use.what]} "
                  f"must be {d} = %d{', ' + src if src else ''}", f"{v}.shape, {exp}")
        return out

    def _docstring(self) -> list[str]:
        """The function's docstring: its arguments' and results' natural shapes, and the formulas."""
        lines = ["Generated by matderiv.", ""]
        lines.append("Arguments: " + (", ".join(f"{p.name} {_array_text(p.shape)}" for p in self.params) or "none"))
        if self.args.keywords:
            lines.append("Keywords: " + ", ".join(f"{k} (the size of dimension {d.name})"
                                                  for d, k in self.args.keywords.items()))
        lines.append("Returns:" if self.many and len(self.outputs) > 1 else "Returns")
        for e in self.outputs:
            t = str(e)
            lines.append(f"    {t if len(t) <= 120 else t[:117] + '...'}  {_array_text(e.shape)}")
        if any(ch in line for line in lines for ch in "\\\"'"):
            lines = lines[:3]
        return ['"""' + lines[0]] + lines[1:] + ['"""']

    def _body(self) -> tuple[list[str], set[str]]:
        """The computing statements and the extra modules they import."""
        canon = Canonical()
        low = Lowering(self.pnames)
        roots = [low.output(low.lower(canon(e))) for e in self.computed]
        roots = low.reuse(roots, factorise=self.lu_module is not None)
        order, _ = use_counts(roots)
        # a view (transpose, broadcast) used k times uses its argument k times
        eff: dict[Node, int] = {r: 0 for r in order}
        for r in roots:
            eff[r] += 1
        for n in reversed(order):
            w = eff[n] if n.op in _TRIVIAL else 1
            for a in n.args:
                eff[a] += w
        pr = self.printer(self.names, self.args)
        for n in order:
            c = pr.emit(n)
            pr.codes[n] = c
            if n.op not in _TRIVIAL and (eff[n] > 1 or len(c[0]) > _LONG):
                pr.bind(n, c[0])
        results = []
        for r in roots:
            c = pr.code(r)
            if r.kind == "s":
                s = f"float({c[0]})"
            elif (r.args[0] if r.op == "T" else r).op in pr.VIEWS:  # read-only views
                s = f"{pr.wrap(c, ATOM)}.copy()"
            else:
                s = c[0]
            if self.many and len(self.outputs) > 1 and not _SIMPLE.match(s):
                s = pr.aux(s)
            results.append(s)
        ret = ", ".join(results) + ("," if self.many and len(results) == 1 else "")
        return pr.lines + [f"return {ret}"], pr.imports

    def source(self) -> str:
        if self._source is None:
            body, imports = self._body()  # first: it finds the keyword dimensions the header checks
            header = self._header()
            lines = [self.printer.import_line(), *sorted(imports), "", "",
                     f"def {self.name}({self.args.signature()}):"]
            lines += [("    " + s).rstrip() for s in self._docstring()]
            for text, role, arg in header:
                lines.append("    " + text)
                if role == "check":
                    self._check_lines.add(len(lines))
                elif role == "dimension":
                    self._dim_lines.add(len(lines))
                elif role == "convert":
                    self._arg_lines[len(lines)] = arg
            lines += ["    " + s for s in body]
            self._source = "\n".join(lines) + "\n"
        return self._source

    def is_check_line(self, lineno: int) -> bool:
        """Whether line ``lineno`` of the source raises for an argument of the wrong shape."""
        return lineno in self._check_lines

    def is_dimension_line(self, lineno: int) -> bool:
        """Whether line ``lineno`` of the source raises for a keyword dimension that is not a positive integer."""
        return lineno in self._dim_lines

    def argument_at_line(self, lineno: int) -> str:
        """The argument converted on line ``lineno`` (or '')."""
        return self._arg_lines.get(lineno, "")


def _importable(module: str) -> bool:
    """Whether ``module`` can be imported here (found without importing it)."""
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


# ---- the public functions --------------------------------------------------------------------------------------------
def numpy_code(exprs: object, args: object, name: str = "f", printer: type[NumPyPrinter] = NumPyPrinter, *,
               lu: str | None = None) -> str:
    """The source of a standalone function ``name(*args)`` evaluating ``exprs`` with numpy.

    Its only import is ``import numpy as np``, whatever else is installed (save ``scipy.special`` or ``math`` for
    an elementwise function numpy lacks, such as erf, and ``scipy.linalg`` when ``lu="scipy"`` asks for it).
    Arrays come in and go out in numpy's natural shapes: an n×1 vector or a 1×m row is a 1-D array, a 1×1 scalar
    a Python float, a matrix a 2-D array; inputs are converted to float64 and their shapes checked against each
    other (a mismatch raises ``ValueError`` naming the argument). A dimension that no argument's shape gives is a
    keyword-only parameter named after it (``def f(s, *, n):``). Shared values are computed once, diag(v)
    products become broadcasting, inverses times something become ``np.linalg.solve`` (products with the
    inverse where it is computed anyway), and chains of products are multiplied in a cheap order. A matrix that
    several solves use is factorised once per orientation: ``lu="numpy"`` (the default) solves A⁻¹b and A⁻¹C as
    one ``np.linalg.solve(A, np.column_stack((b, C)))`` — solves with Aᵀ as a second one, a solve whose
    right-hand side needs another's result as one of its own; ``lu="scipy"`` factorises A once with
    ``scipy.linalg.lu_factor`` and solves every system with A or Aᵀ with ``lu_solve``. A singular matrix raises
    ``numpy.linalg.LinAlgError`` from ``np.linalg.solve``/``np.linalg.inv`` (``lu_factor`` only warns, and the
    solves give inf/nan). What the code evaluates is the expression in numerically stable forms
    (:mod:`.stable`: log(1 + eᶻ) as ``np.logaddexp(0, z)``, 1 − σ(z) as σ(−z), …): finite at logits of ±1000.
    A log det is evaluated as ``np.linalg.slogdet(X)[1]``, which is log |det X|: it is log det X only where
    det X > 0. ``printer``: another array backend (a :class:`NumPyPrinter` subclass).
    """
    outputs, many = outputs_of(exprs)
    params = resolve_args(outputs, args)
    return NumPyFunction(outputs, params, function_name(name, printer.globals_used()), many, printer,
                         lu).source()


def lambdify(args: object, exprs: object, printer: type[NumPyPrinter] = NumPyPrinter, *,
             lu: str | None = None) -> Callable[..., Any]:
    """A compiled numpy function of ``args`` evaluating ``exprs`` (an expression, or a list giving a tuple).

    ``fn(*arrays, **dims)`` takes the arrays in the order of ``args``, and the size of each dimension no argument
    gives as a keyword named after it (``fn(2.0, n=4)``); ``fn.source`` is the generated source. Inputs whose
    shapes do not fit raise :class:`~matderiv.errors.ShapeError`, a missing or extra value or dimension
    :class:`~matderiv.errors.ArgumentError`. ``printer``: another array backend (a :class:`NumPyPrinter`
    subclass; its module must be importable); ``lu``: as for :func:`numpy_code` (``"scipy"`` needs scipy).
    """
    outputs, many = outputs_of(exprs)
    params = resolve_args(outputs, args)
    gen = NumPyFunction(outputs, params, "f", many, printer, lu)
    if gen.lu_module is not None and not _importable(gen.lu_module):
        raise ArgumentError(f"lu={lu or printer.lu!r} takes lu_factor from {gen.lu_module}, which cannot be "
                            "imported here: install it, or use lu='numpy'")
    source = gen.source()
    keywords = gen.keywords
    namespace: dict[str, Any] = {"__name__": "matderiv_generated"}
    exec(compile(source, "<matderiv.lambdify>", "exec"), namespace)  # noqa: S102 - our generated code
    inner = namespace["f"]
    code = inner.__code__
    arg_names = [p.name for p in params]

    def fn(*values: object, **dims: object) -> Any:
        if len(values) != len(arg_names):
            if len(values) < len(arg_names):
                missing = ", ".join(repr(n) for n in arg_names[len(values):])
                raise ArgumentError(f"missing the value of {missing}: the function takes "
                                    f"({', '.join(arg_names)}), got {len(values)} value(s)")
            raise ArgumentError(f"too many values: the function takes ({', '.join(arg_names)}), "
                                f"got {len(values)}")
        kw = call_with_dims("the function", keywords, dims) if dims or keywords else {}
        try:
            return inner(*values, **kw)
        except (ValueError, TypeError) as exc:
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is None or tb.tb_frame.f_code is not code:
                raise  # raised inside numpy while computing, not by the generated argument checks
            if gen.is_check_line(tb.tb_lineno):
                raise ShapeError(str(exc)) from None
            if gen.is_dimension_line(tb.tb_lineno) or gen.is_dimension_line(tb.tb_lineno + 1):
                raise ArgumentError(str(exc) if gen.is_dimension_line(tb.tb_lineno) else
                                    f"a dimension must be a positive integer: {exc}") from None
            which = gen.argument_at_line(tb.tb_lineno)
            if not which:
                raise
            raise ArgumentError(f"the value of {which!r} must be a number or an array of numbers: {exc}") from None

    fn.__name__ = fn.__qualname__ = "f"
    fn.__doc__ = ("A numpy function generated by matderiv.lambdify; called with the values of "
                  f"({', '.join(arg_names)})" + (f" and the keywords {', '.join(keywords)}" if keywords else "")
                  + f". Its source:\n\n{source}")
    fn.source = source  # type: ignore[attr-defined]
    fn.args = tuple(params)  # type: ignore[attr-defined]
    fn.dims = tuple(keywords)  # type: ignore[attr-defined]
    fn.exprs = tuple(outputs) if many else outputs[0]  # type: ignore[attr-defined]
    fn.__wrapped__ = inner  # type: ignore[attr-defined]  # inspect.signature shows the parameters
    return fn


__all__ = ["numpy_code", "lambdify", "NumPyFunction", "NumPyPrinter", "Lowering", "Node", "kind_of", "fn_template",
           "SPECIAL"]
