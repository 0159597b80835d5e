"""``md.gradcheck(func, inputs)``: torch.autograd.gradcheck's calling convention, with a stronger reference.

``inputs`` is a tuple of numpy arrays or torch tensors (a single one is taken as a 1-tuple); ``func`` a Python
function, a torch module or a ``torch.autograd.Function.apply``, returning an array/tensor or a tuple of them.
The differentiated inputs are the torch tensors with ``requires_grad=True`` (as in torch) or every float numpy
array. For a matrix-valued output the checked scalar is ⟨S, func(x)⟩ with a random seed S per output (a
scalar output gets the seed 1), so one check covers the whole Jacobian with probability 1.

The analytic side is ``grad`` when given — a function of the inputs returning the gradient(s) (for a
matrix-valued output, ``grad(*inputs, *seeds)`` returning the VJP(s)), or the arrays themselves — else torch's
own autograd. The reference: a probe calls ``func`` on numpy object arrays of mpmath numbers; when it computes
with them, mpmath central and one-sided differences at ``dps`` digits, checked against dps + 20 (a function
that ignores the working precision is detected and the check falls back); otherwise float64 differences
extrapolated by Ridders' method, with their error estimate. The report says which reference was used and how
many digits it is good for, and is truthy when the check passes.

torch is imported only when a torch tensor or module is given.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

from ..core.errors import ArgumentError, CheckError, MatderivError
from .compare import GradReport, check_options, run
from .reference import Float64Reference, MpmathReference, PrecisionIgnored
from .user import TOLERANCE_TEXT, as_array, measure_noise

PROBE_DPS = 20


def _is_torch(v: Any) -> bool:
    return type(v).__module__.startswith("torch") and hasattr(v, "requires_grad")


def _torch() -> Any:
    import torch  # optional: only reached for torch tensors
    return torch


def _name_of(func: Any) -> str:
    n = getattr(func, "__name__", None) or type(func).__name__
    if getattr(func, "__name__", "") == "apply" and hasattr(func, "__self__"):
        n = f"{func.__self__.__name__}.apply"
    return n if len(n) < 60 else n[:57] + "..."


def _input_names(func: Any, n: int) -> list[str]:
    target = getattr(func, "forward", func)
    try:
        params = [p for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    if len(names) == n and len(set(names)) == n and all(nm.isidentifier() for nm in names) and "ctx" not in names:
        return names
    return [f"input{k}" for k in range(n)]


class _Func:
    """``func`` seen as φ(x) = Σ ⟨Sₖ, outₖ⟩ of the differentiated inputs, in float64, in torch or in mpmath."""

    def __init__(self, func: Callable[..., Any], inputs: Sequence[Any], gen: np.random.Generator) -> None:
        self.func = func
        self.inputs = list(inputs)
        self.torch = any(_is_torch(v) for v in self.inputs)
        if self.torch:
            torch = _torch()
            self.diff = [k for k, v in enumerate(self.inputs) if _is_torch(v) and v.requires_grad]
            if not self.diff:
                raise ArgumentError("gradcheck: no input tensor has requires_grad=True; mark the ones to check, "
                                    "e.g. torch.randn(10, 5, dtype=torch.double, requires_grad=True)")
            for k in self.diff:
                if self.inputs[k].dtype != torch.float64:
                    raise ArgumentError(f"gradcheck: input {k} is {self.inputs[k].dtype}; gradients are checked in "
                                        f"double precision: use dtype=torch.double (and module.double())")
            self.x0 = [self.inputs[k].detach().cpu().numpy().astype(float) for k in self.diff]
        else:
            self.diff = []
            for k, v in enumerate(self.inputs):
                if isinstance(v, (bool, np.bool_)) or v is None:
                    continue
                if isinstance(v, (int, float, list, tuple, np.ndarray, np.floating, np.integer)):
                    arr = np.asarray(v)
                    if arr.dtype.kind in "fiu" and not isinstance(v, (int, np.integer)):
                        self.diff.append(k)
                        continue
                    if arr.dtype.kind == "O":
                        raise ArgumentError(f"gradcheck: input {k} is not an array of numbers")
            if not self.diff:
                raise ArgumentError("gradcheck: no input is a float array to differentiate")
            self.x0 = [np.asarray(self.inputs[k], dtype=float) for k in self.diff]
        out = self._outputs64(self.x0)
        self.seeds = [np.ones(()) if o.size == 1 and o.ndim <= 1 or o.ndim == 0 else gen.standard_normal(o.shape)
                      for o in out]
        self.out_shapes = [o.shape for o in out]

    # ---- calling ----
    def _args(self, xs: Sequence[Any], wrap: Callable[[Any, int], Any]) -> list[Any]:
        args = list(self.inputs)
        for k, x in zip(self.diff, xs):
            args[k] = wrap(x, k)
        return args

    def _call(self, args: list[Any]) -> Any:
        try:
            with np.errstate(all="ignore"):
                return self.func(*args)
        except MatderivError:
            raise
        except Exception as exc:
            raise CheckError(f"gradcheck: calling {_name_of(self.func)} failed: {type(exc).__name__}: {exc}") from exc

    def _as_outputs(self, out: Any) -> list[Any]:
        return list(out) if isinstance(out, (tuple, list)) else [out]

    def _outputs64(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.torch:
            torch = _torch()
            with torch.no_grad():
                out = self._call(self._args(xs, lambda x, k: torch.as_tensor(np.asarray(x, dtype=float))))
            return [o.detach().cpu().numpy().astype(float) if _is_torch(o) else np.asarray(o, dtype=float)
                    for o in self._as_outputs(out)]
        out = self._call(self._args(xs, lambda x, k: np.asarray(x, dtype=float)))
        res = []
        for o in self._as_outputs(out):
            try:
                res.append(np.asarray(o, dtype=float))
            except (TypeError, ValueError) as exc:
                raise CheckError(f"gradcheck: {_name_of(self.func)} returned {type(o).__name__}, not an array of "
                                 f"numbers ({exc})") from None
        return res

    def phi64(self, xs: Sequence[np.ndarray]) -> tuple[float, float]:
        """φ in float64 (the products summed exactly) and Σ|Sₖ outₖ|, the scale of its rounding."""
        outs = self._outputs64(xs)
        terms = np.concatenate([(s * o).ravel() for s, o in zip(self.seeds, outs)])
        return math.fsum(terms.tolist()), float(np.sum(np.abs(terms)))

    def phi_mp(self, xs: Sequence[np.ndarray]) -> Any:
        out = self._call(self._args(xs, lambda x, k: x))
        total = []
        for s, o in zip(self.seeds, self._as_outputs(out)):
            o = np.asarray(o, dtype=object) if not isinstance(o, (mpmath.mpf, int, float)) else np.asarray(o, dtype=object)
            for sv, ov in zip(np.broadcast_to(s, o.shape).ravel(), o.ravel()):
                if not isinstance(ov, mpmath.mpf):
                    raise PrecisionIgnored(f"{_name_of(self.func)} returned {type(ov).__name__} entries, not mpmath "
                                           f"numbers")
                total.append(mpmath.mpf(float(sv)) * ov)
        return mpmath.fsum(total)

    def probe(self) -> str | None:
        """None when func computes with mpmath numbers, else why not."""
        if self.torch:
            return "torch computes in float64 only"
        with mpmath.workdps(PROBE_DPS):
            from .reference import to_mp
            try:
                self.phi_mp([to_mp(x) for x in self.x0])
            except PrecisionIgnored as exc:
                return str(exc)
            except CheckError as exc:
                return f"it does not accept arrays of mpmath numbers ({str(exc).split(': ', 1)[-1]})"
        return None

    # ---- the analytic side ----
    def autograd(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        torch = _torch()
        leaves = [torch.tensor(np.asarray(x, dtype=float), dtype=torch.float64, requires_grad=True) for x in xs]
        args = self._args(leaves, lambda x, k: x)
        try:
            with torch.enable_grad():
                out = self._as_outputs(self.func(*args))
                phi = sum((torch.as_tensor(s, dtype=torch.float64) * o).sum() for s, o in zip(self.seeds, out))
                gs = torch.autograd.grad(phi, leaves, allow_unused=True)
        except MatderivError:
            raise
        except Exception as exc:
            raise CheckError(f"gradcheck: torch autograd of {_name_of(self.func)} failed: {type(exc).__name__}: "
                             f"{exc}") from exc
        return [np.zeros(np.shape(x)) if g is None else g.detach().cpu().numpy().astype(float)
                for g, x in zip(gs, xs)]


def gradcheck(func: Callable[..., Any], inputs: Any, grad: Any = None, *, mode: str = "directions",
              directions: int = 3, dps: int = 30, rng: int | None = 0, strict: bool = False) -> GradReport:
    """Check the gradients of ``func`` at ``inputs`` (see the module docstring); returns a truthy report."""
    if not callable(func):
        raise ArgumentError(f"gradcheck: func must be callable (a function, a torch module, Function.apply), got "
                            f"{type(func).__name__}")
    if mode not in ("directions", "entries"):
        raise ArgumentError(f"gradcheck: mode must be 'directions' or 'entries', got {mode!r}")
    check_options("gradcheck", dps, directions, rng)
    if rng is None:
        rng = int(np.random.SeedSequence().entropy % 2**63)
    inputs = tuple(inputs) if isinstance(inputs, tuple) else (inputs,)
    gen = np.random.default_rng(int(rng))
    fn = _Func(func, inputs, gen)
    names_all = _input_names(func, len(inputs))
    names = [names_all[k] for k in fn.diff]
    scalar_out = len(fn.out_shapes) == 1 and int(np.prod(fn.out_shapes[0])) == 1

    # the analytic side
    if grad is None:
        if not fn.torch:
            raise ArgumentError("gradcheck: give grad= (a function of the inputs returning the gradients) for numpy "
                                "inputs; torch tensors are checked against torch's autograd")
        analytic: Callable[[Sequence[np.ndarray]], list[np.ndarray]] | None = fn.autograd
        side = "torch autograd"
    elif callable(grad):
        seeds = () if scalar_out else tuple(fn.seeds)

        def analytic(xs: Sequence[np.ndarray]) -> list[np.ndarray]:
            args = fn._args(xs, lambda x, k: x if not fn.torch else _torch().as_tensor(x))
            try:
                with np.errstate(all="ignore"):
                    res = grad(*args, *seeds)
            except MatderivError:
                raise
            except Exception as exc:
                raise CheckError(f"gradcheck: calling grad failed: {type(exc).__name__}: {exc}") from exc
            res = list(res) if isinstance(res, (tuple, list)) and len(fn.diff) > 1 else [res]
            if len(res) != len(fn.diff):
                raise ArgumentError(f"gradcheck: grad must return {len(fn.diff)} gradient(s) "
                                    f"({', '.join(names)}), got {len(res)}")
            return [as_array(r, np.shape(x), f"the grad value for {n!r}") for r, x, n in zip(res, xs, names)]
        side = "grad"
    else:
        items = list(grad) if isinstance(grad, (tuple, list)) and len(fn.diff) > 1 else [grad]
        if len(items) != len(fn.diff):
            raise ArgumentError(f"gradcheck: grad gives {len(items)} array(s) for {len(fn.diff)} input(s)")
        fixed = [as_array(g, np.shape(x), f"the grad value for {n!r}") for g, x, n in zip(items, fn.x0, names)]
        analytic = None
        side = "grad (arrays)"
    base = analytic(fn.x0) if analytic is not None else fixed
    for g, n in zip(base, names):
        if not np.all(np.isfinite(g)):
            raise CheckError(f"gradcheck: the analytic gradient for {n!r} has non-finite entries")

    # the reference
    notes: list[str] = []
    why_not = fn.probe()
    reference: Any = None
    if why_not is None:
        reference = MpmathReference(fn.phi_mp, fn.x0, dps, verify=True, what=_name_of(func))
        try:
            reference.start()
        except PrecisionIgnored as exc:
            notes.append(f"mpmath reference abandoned: {exc}")
            reference = None
    else:
        notes.append(f"float64 reference: {_name_of(func)} does not compute with mpmath numbers: {why_not}")

    def float_reference() -> Float64Reference:
        r = Float64Reference(fn.phi64, fn.x0, what=_name_of(func))
        r.start()
        return r

    if reference is None:
        reference = float_reference()

    # the analytic side's round-off, measured
    if analytic is not None:
        noise = measure_noise(analytic, base, fn.x0, list(range(len(fn.diff))), gen)
    else:
        def noise(w: int, d: np.ndarray) -> float:
            return 0.0

    dirs = {}
    for j, x in enumerate(fn.x0):
        size = max([1.0] + [abs(float(v)) for v in np.ravel(x)])
        dirs[j] = [gen.standard_normal(np.shape(x)) * size for _ in range(directions)]
    wrt = list(range(len(fn.diff)))
    cap = 16.0
    try:
        variables = run(names, wrt, fn.x0, base, reference, noise, dirs, mode, strict, cap)
    except PrecisionIgnored as exc:
        notes.append(f"mpmath reference abandoned: {exc}")
        reference = float_reference()
        variables = run(names, wrt, fn.x0, base, reference, noise, dirs, mode, strict, cap)
    kinks = sum(v.kinks for v in variables)
    if kinks:
        notes.append(f"{kinks} comparison(s) at a kink (the one-sided derivatives differ and the analytic value lies "
                     f"between them){'; strict: counted as failures' if strict else '; not counted as failures'}")
    out = "" if scalar_out else " (the checked scalar is ⟨S, output⟩ with a random seed S)"
    return GradReport(title=f"gradcheck of {_name_of(func)} ({side}){out}", variables=variables,
                      reference=reference.describe(), reference_kind=reference.kind,
                      reference_digits=reference.digits(), mode=mode, tolerance=TOLERANCE_TEXT, strict=strict,
                      notes=notes, evaluations=reference.evals)
