"""``md.gradcheck(func, inputs)``: torch.autograd.gradcheck's calling convention, with a stronger reference.

``inputs`` is a tuple of numpy arrays or torch tensors (a single one is taken as a 1-tuple); ``func`` a Python
function, a torch module or a ``torch.autograd.Function.apply``, returning an array/tensor or a tuple of them.
The differentiated inputs are the torch tensors with ``requires_grad=True`` (as in torch) or every float numpy
array. For a matrix-valued output the checked scalar is ⟨S, func(x)⟩ with a random seed S per output (a
scalar output gets the seed 1), so one check covers the whole Jacobian with probability 1.

The analytic side is ``grad`` when given — a function of the inputs returning the gradient(s) (for a
matrix-valued output, ``grad(*inputs, *seeds)`` returning the VJP(s)), or the arrays themselves — else torch's
own autograd. The reference: a probe calls ``func`` on numpy object arrays of mpmath numbers; when it computes
with them (inputs of at most 20 000 entries, an evaluation under 0.5 s), mpmath central and one-sided differences
at ``dps`` digits, checked against dps + 20 and, along each direction, against steps of 1e-8 (a function that
ignores the working precision, wholly or in part, is detected and the check falls back); otherwise float64
differences extrapolated by Ridders' method (each entry's step scaled by the entry in a badly scaled input), with their error estimate
(never below φ's measured round-off). φ and the gradient are evaluated twice at the point: a function that is not
deterministic (torch Dropout in training mode) makes the report inconclusive. The report says which reference was used and how
many digits it is good for, and is truthy when the check passes.

torch is imported only when a torch tensor or module is given.
"""
from __future__ import annotations

import inspect
import math
import time
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

from ..core.errors import ArgumentError, CheckError
from .calls import guarded, low_precision
from .compare import GradReport, check_options, kink_note, run
from .reference import Float64Reference, MpmathReference, PrecisionIgnored, U, random_direction, to_mp
from .user import FAR, FAR32, FLOAT32_NOTE, TOLERANCE_TEXT, U32, as_array, measure_noise, relative_roundoff

PROBE_DPS = 20
PROBE_ENTRIES = 20_000  # inputs with more entries in all skip the mpmath probe (object arrays would be too slow)
PROBE_SECONDS = 0.5  # a probe slower than this means an mpmath reference of minutes (it needs ~30 such evaluations
# at twice the digits): the float64 reference is used instead


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
                    if arr.dtype.kind == "c":
                        raise ArgumentError(f"gradcheck: input {k} is complex ({arr.dtype}); gradients are checked "
                                            f"for real inputs only")
                    if arr.dtype.kind == "O":
                        raise ArgumentError(f"gradcheck: input {k} is not an array of numbers")
            if not self.diff:
                raise ArgumentError("gradcheck: no input is a float array to differentiate")
            self.x0 = [np.asarray(self.inputs[k], dtype=float) for k in self.diff]
        names = _input_names(func, len(self.inputs))
        for k, x in zip(self.diff, self.x0):
            if x.size == 0:
                raise ArgumentError(f"gradcheck: input {names[k]!r} has no entries (shape {x.shape}): nothing to check")
            if not np.all(np.isfinite(x)):
                bad = int(np.flatnonzero(~np.isfinite(x.ravel()))[0])
                raise ArgumentError(f"gradcheck: the point has a non-finite entry: input {names[k]!r}"
                                    f"{[int(i) for i in np.unravel_index(bad, x.shape)] if x.ndim else ''} is "
                                    f"{x.ravel()[bad]}; choose a finite point")
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
        return guarded(f"gradcheck: calling {_name_of(self.func)}", self.func, *args)

    def _as_outputs(self, out: Any) -> list[Any]:
        return list(out) if isinstance(out, (tuple, list)) else [out]

    def _outputs64(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.torch:
            torch = _torch()
            with torch.no_grad():
                out = self._call(self._args(xs, lambda x, k: torch.as_tensor(np.asarray(x, dtype=float))))
            outs = [o.detach().cpu().numpy() if _is_torch(o) else o for o in self._as_outputs(out)]
        else:
            outs = self._as_outputs(self._call(self._args(xs, lambda x, k: np.asarray(x, dtype=float))))
        res = []
        for o in outs:
            if o is None:
                raise CheckError(f"gradcheck: {_name_of(self.func)} returned None (a missing return?)")
            if np.iscomplexobj(o):
                raise ArgumentError(f"gradcheck: {_name_of(self.func)} returned a complex value "
                                    f"({np.asarray(o).dtype}); the checked function must be real-valued (its imaginary "
                                    f"part would be dropped)")
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
        """None when func computes with mpmath numbers (within the size and time budgets), else why not."""
        if self.torch:
            return "torch computes in float64 only"
        entries = sum(int(np.size(x)) for x in self.x0)
        if entries > PROBE_ENTRIES:
            return f"the inputs have {entries} entries (> {PROBE_ENTRIES}): not tried on arrays of mpmath numbers"
        t = time.perf_counter()
        with mpmath.workdps(PROBE_DPS):
            try:
                self.phi_mp([to_mp(x) for x in self.x0])
            except PrecisionIgnored as exc:
                return str(exc)
            except CheckError as exc:
                return f"it does not accept arrays of mpmath numbers ({str(exc).split(': ', 1)[-1]})"
        took = time.perf_counter() - t
        if took > PROBE_SECONDS:
            return (f"one evaluation on mpmath numbers took {took:.2f} s (> {PROBE_SECONDS} s; the mpmath reference "
                    f"needs about 30 at twice the digits)")
        return None

    # ---- the analytic side ----
    def autograd(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        torch = _torch()
        leaves = [torch.tensor(np.asarray(x, dtype=float), dtype=torch.float64, requires_grad=True) for x in xs]
        args = self._args(leaves, lambda x, k: x)

        def backward() -> Any:
            with torch.enable_grad():
                out = self._as_outputs(self.func(*args))
                phi = sum((torch.as_tensor(s, dtype=torch.float64) * o).sum() for s, o in zip(self.seeds, out))
                return torch.autograd.grad(phi, leaves, allow_unused=True)
        gs = guarded(f"gradcheck: torch autograd of {_name_of(self.func)}", backward)
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
    analytic, fixed, side = _analytic(fn, grad, names, scalar_out)
    low: list[bool] = []

    def gradients(xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        raw = analytic(xs)  # type: ignore[misc]
        low.append(any(low_precision(r) for r in raw))
        return [as_array(r, np.shape(x), f"the grad value for {n!r}") for r, x, n in zip(raw, xs, names)]
    base = gradients(fn.x0) if analytic is not None else fixed
    for g, n in zip(base, names):
        if not np.all(np.isfinite(g)):
            raise CheckError(f"gradcheck: the analytic gradient for {n!r} has non-finite entries")
    title = (f"gradcheck of {_name_of(func)} ({side})"
             + ("" if scalar_out else " (the checked scalar is ⟨S, output⟩ with a random seed S)"))
    sizes = {n: tuple(np.shape(x)) for n, x in zip(names, fn.x0)}
    why = _not_deterministic(fn, gradients if analytic is not None else None, base)
    if why:
        return GradReport(title=title, variables=[], reference="none (not run)", reference_kind="none",
                          reference_digits=0.0, mode=mode, tolerance=TOLERANCE_TEXT, strict=strict,
                          inconclusive=[why], rng=int(rng), sizes=sizes)
    notes: list[str] = []
    float32 = bool(low and low[0])
    if float32:
        notes.append(FLOAT32_NOTE)
    reference, rho = _reference(fn, func, dps, names, gen, notes)
    rho = max(rho, U32 if float32 else U)
    if analytic is not None:  # the analytic side's round-off, measured
        noise = measure_noise(gradients, base, fn.x0, list(range(len(fn.diff))), gen, FAR32 if float32 else FAR)
    else:
        def noise(w: int, d: np.ndarray) -> float:
            return 0.0
    dirs = {j: [random_direction(x, gen, per_entry=True) for _ in range(directions)] for j, x in enumerate(fn.x0)}
    wrt = list(range(len(fn.diff)))

    def compare(ref: Any) -> list[Any]:
        return run(names, wrt, fn.x0, base, ref, noise, dirs, mode, strict, 16.0, rho=rho, per_entry=True,
                   who="gradcheck")
    try:
        variables = compare(reference)
    except PrecisionIgnored as exc:
        notes.append(f"mpmath reference abandoned: {exc}; the float64 reference is used")
        reference = _float64_reference(fn, func, names)
        variables = compare(reference)
    note = kink_note(sum(v.kinks for v in variables), strict)
    if note:
        notes.append(note)
    return GradReport(title=title, variables=variables, reference=reference.describe(),
                      reference_kind=reference.kind, reference_digits=reference.digits(), mode=mode,
                      tolerance=TOLERANCE_TEXT, strict=strict, notes=notes, evaluations=reference.evals,
                      rng=int(rng), sizes=sizes)


def _analytic(fn: _Func, grad: Any, names: list[str], scalar_out: bool
              ) -> tuple[Callable[[Sequence[np.ndarray]], list[Any]] | None, list[np.ndarray], str]:
    """The analytic side: a function of the differentiated inputs returning the raw gradients (or None and the
    fixed arrays), and its name for the report."""
    if grad is None:
        if not fn.torch:
            raise ArgumentError("gradcheck: give grad= (a function of the inputs returning the gradients) for numpy "
                                "inputs; torch tensors are checked against torch's autograd")
        return fn.autograd, [], "torch autograd"
    if callable(grad):
        seeds = () if scalar_out else tuple(fn.seeds)

        def analytic(xs: Sequence[np.ndarray]) -> list[Any]:
            args = fn._args(xs, lambda x, k: x if not fn.torch else _torch().as_tensor(x))
            res = guarded("gradcheck: calling grad", grad, *args, *seeds)
            res = list(res) if isinstance(res, (tuple, list)) and len(fn.diff) > 1 else [res]
            if len(res) != len(fn.diff):
                raise ArgumentError(f"gradcheck: grad must return {len(fn.diff)} gradient(s) "
                                    f"({', '.join(names)}), got {len(res)}")
            return res
        return analytic, [], "grad"
    items = list(grad) if isinstance(grad, (tuple, list)) and len(fn.diff) > 1 else [grad]
    if len(items) != len(fn.diff):
        raise ArgumentError(f"gradcheck: grad gives {len(items)} array(s) for {len(fn.diff)} input(s)")
    fixed = [as_array(g, np.shape(x), f"the grad value for {n!r}") for g, x, n in zip(items, fn.x0, names)]
    return None, fixed, "grad (arrays)"


def _not_deterministic(fn: _Func, gradients: Callable[[Sequence[np.ndarray]], list[np.ndarray]] | None,
                       base: list[np.ndarray]) -> str | None:
    """Why the check cannot conclude when φ or the gradient differ between two evaluations at the same point."""
    a, b = fn.phi64(fn.x0)[0], fn.phi64(fn.x0)[0]
    what = None
    if a != b and not (math.isnan(a) and math.isnan(b)):
        what = f"two evaluations of {_name_of(fn.func)} at the same point differ ({a!r} and {b!r})"
    elif gradients is not None and any(not np.array_equal(g, h) for g, h in zip(base, gradients(fn.x0))):
        what = "two evaluations of the gradient at the same point differ"
    if what is None:
        return None
    hint = ("a torch module in training mode (Dropout, BatchNorm): call module.eval()" if fn.torch
            else "random numbers inside: fix their seed in the function")
    return f"the function is not deterministic: {what}; {hint}"


def _float64_reference(fn: _Func, func: Any, names: list[str]) -> Float64Reference:
    r = Float64Reference(fn.phi64, fn.x0, what=_name_of(func), names=names)
    r.start()
    return r


def _reference(fn: _Func, func: Any, dps: int, names: list[str], gen: np.random.Generator,
               notes: list[str]) -> tuple[Any, float]:
    """The mpmath reference when the probe says func computes with mpmath numbers, else float64's; and ρ, φ's
    relative float64 round-off (float64 vs mpmath at the point; u for the float64 reference, whose error estimate
    carries φ's round-off itself)."""
    why_not = fn.probe()
    if why_not is None:
        reference = MpmathReference(fn.phi_mp, fn.x0, dps, verify=True, what=_name_of(func), names=names)
        try:
            reference.start()
            return reference, relative_roundoff(lambda xs: fn.phi64(xs)[0], fn.phi_mp, fn.x0, gen)
        except PrecisionIgnored as exc:
            notes.append(f"mpmath reference abandoned: {exc}; the float64 reference is used")
    else:
        notes.append(f"float64 reference: {_name_of(func)} does not compute with mpmath numbers: {why_not}")
    return _float64_reference(fn, func, names), U
