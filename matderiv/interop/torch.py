"""``md.from_torch(module, input_shape)``: a torch ``nn.Sequential`` as a matderiv expression.

Supported layers (in any order and number, nested Sequentials flattened — their parameters named as torch names
them, "0.1.weight" — and their symbols W0_1, b0_1): ``Linear`` (with or without bias), ``ReLU``, ``LeakyReLU``
(``negative_slope``), ``Sigmoid``, ``Tanh``, ``Softplus`` (``beta``; torch switches to the identity above
``threshold``, matderiv's softplus does not — they differ by less than e^−threshold), ``Softmax`` and
``LogSoftmax`` (``dim`` over the features, or over the batch for ``dim=0``) and ``Identity``. A module
that is not a Sequential but holds exactly one (the tutorial's ``Net`` with ``self.net = nn.Sequential(...)``)
is converted through it, and its own forward must agree with the Sequential's on a random input.

``input_shape``: ``(features,)`` for one sample (a column vector x; a Linear layer is ``W @ x + b``) or
``(batch, features)`` with batch an int or a name, ``("n", 15)`` (a matrix X whose rows are samples; a Linear
layer is ``X @ W.T + b.T``, numpy's broadcasting of the bias). Returns ``(F, syms)``: ``syms`` maps ``"input"``
and every name of ``module.named_parameters()`` ("0.weight", "0.bias", or "net.0.weight" inside a module) to its
symbol (named X or x, and W0, b0, … after the layer's index).

A row-wise softmax is written with what the ops have today: exp(Y) / (exp(Y) 𝟏) and Y − log(exp(Y) 𝟏), the
division broadcasting the column of row sums (no max-shift: entries beyond ~700 overflow in float64).

torch is imported only when this function is called.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..core.errors import ArgumentError, CheckError, ShapeError
from ..core.expr import Expr
from ..ops import (divide, elementwise, exp, log, logsumexp, matmul, mul, ones, relu, sigmoid, softmax,
                   softplus, symbol, tanh, transpose)
from ..ops.elementwise import add, neg

SUPPORTED = ("Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "Identity")


def _sequential(module: Any) -> tuple[Any, str]:
    import torch.nn as nn
    if isinstance(module, nn.Sequential):
        return module, ""
    children = list(module.named_children())
    if len(children) == 1 and isinstance(children[0][1], nn.Sequential):
        return children[0][1], children[0][0] + "."
    if not children and type(module).__name__ not in SUPPORTED:  # a single layer of a kind from_torch lacks
        raise ArgumentError(f"from_torch: {type(module).__name__} is not supported; supported layers: "
                            f"{', '.join(SUPPORTED)} (in an nn.Sequential)")
    kinds = ", ".join(f"{n} ({type(c).__name__})" for n, c in children) or "none"
    raise ArgumentError(f"from_torch: needs an nn.Sequential, or a module holding exactly one; "
                        f"{type(module).__name__} has the children {kinds}")


def _layers(seq: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """The layers of a Sequential in order, nested Sequentials flattened, named as torch names their parameters
    ("0.1" for layer 1 of the Sequential at index 0)."""
    import torch.nn as nn
    out: list[tuple[str, Any]] = []
    for name, layer in seq.named_children():
        if isinstance(layer, nn.Sequential):
            out.extend(_layers(layer, f"{prefix}{name}."))
        else:
            out.append((f"{prefix}{name}", layer))
    return out


def _leaky(slope: float, k: int) -> Any:
    s = sympy.Rational(repr(float(slope)))
    name = "leaky_relu" if float(slope) == 0.01 else f"leaky_relu{k}"
    return elementwise(name, lambda t: sympy.Piecewise((t, t > 0), (s * t, True)))


def from_torch(module: Any, input_shape: Any) -> tuple[Expr, dict[str, Expr]]:
    """The expression of ``module`` applied to an input of ``input_shape`` and the symbols by torch name."""
    try:
        import torch  # noqa: F401
        import torch.nn as nn
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ArgumentError("from_torch needs torch: pip install 'matderiv[torch]'") from exc
    if not isinstance(module, nn.Module):
        raise ArgumentError(f"from_torch: module must be a torch nn.Module, got {type(module).__name__}")
    seq, prefix = _sequential(module)
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else (input_shape,)
    if len(shape) not in (1, 2) or not isinstance(shape[-1], int) or isinstance(shape[-1], bool) or shape[-1] < 1:
        raise ArgumentError(f"from_torch: input_shape must be (features,) or (batch, features) with an int number "
                            f"of features, got {input_shape!r}")
    batched = len(shape) == 2
    feats = shape[-1]
    x = symbol("X", shape[0], feats) if batched else symbol("x", feats, 1)
    syms: dict[str, Expr] = {"input": x}
    y: Expr = x
    batch = shape[0] if batched else None
    for k, (name, layer) in enumerate(_layers(seq)):
        kind = type(layer).__name__
        where = f"layer {prefix}{name} ({kind})"
        tag = name.replace(".", "_") if name.replace(".", "").isdigit() else str(k)  # "0.1" → W0_1
        if isinstance(layer, nn.Linear):
            if layer.in_features != feats:
                raise ShapeError(f"from_torch: {where} takes {layer.in_features} features, but its input has {feats}")
            W = symbol(f"W{tag}", layer.out_features, layer.in_features)
            syms[f"{prefix}{name}.weight"] = W
            y = matmul(y, transpose(W)) if batched else matmul(W, y)
            if layer.bias is not None:
                b = symbol(f"b{tag}", layer.out_features, 1)
                syms[f"{prefix}{name}.bias"] = b
                y = add(y, transpose(b)) if batched else add(y, b)
            feats = layer.out_features
        elif isinstance(layer, nn.ReLU):
            y = relu(y)
        elif isinstance(layer, nn.LeakyReLU):
            y = _leaky(layer.negative_slope, k)(y)
        elif isinstance(layer, nn.Sigmoid):
            y = sigmoid(y)
        elif isinstance(layer, nn.Tanh):
            y = tanh(y)
        elif isinstance(layer, nn.Softplus):
            beta = float(layer.beta)
            y = softplus(y) if beta == 1 else divide(softplus(mul(beta, y)), beta)
        elif isinstance(layer, nn.Identity):
            pass
        elif isinstance(layer, (nn.Softmax, nn.LogSoftmax)):
            dim = layer.dim
            log_ = isinstance(layer, nn.LogSoftmax)
            if not batched:
                if dim not in (None, 0, -1):
                    raise ArgumentError(f"from_torch: {where} has dim={dim}, but a single sample has one dimension")
                y = add(y, neg(logsumexp(y))) if log_ else softmax(y)
            else:
                if dim not in (None, 0, 1, -1, -2):
                    raise ArgumentError(f"from_torch: {where} has dim={dim}; a batch has dimensions 0 and 1")
                rows = dim in (None, 1, -1)
                e = exp(y)
                sums = matmul(e, ones(feats)) if rows else matmul(transpose(ones(batch)), e)
                y = add(y, neg(log(sums))) if log_ else divide(e, sums)
        else:
            raise ArgumentError(f"from_torch: {where} is not supported; supported layers: {', '.join(SUPPORTED)}")
    names = {n for n, _ in module.named_parameters()}
    missing = sorted(names - set(syms))
    if missing:  # pragma: no cover - every supported layer's parameters are mapped
        raise ArgumentError(f"from_torch: parameters {missing} have no symbol")
    if seq is not module:
        _same_forward(module, seq, shape)
    return y, syms


def _same_forward(module: Any, seq: Any, shape: tuple[Any, ...]) -> None:
    """The outer module's forward must be its Sequential's (we convert the Sequential)."""
    import copy

    import torch
    m = copy.deepcopy(module).double()
    s = dict(m.named_children())[next(n for n, c in module.named_children())]
    n = shape[0] if isinstance(shape[0], int) and len(shape) == 2 else 3
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*((n, shape[-1]) if len(shape) == 2 else (shape[-1],)), dtype=torch.float64, generator=gen)
    with torch.no_grad():
        try:
            a, b = m(x), s(x)
        except Exception as exc:
            raise CheckError(f"from_torch: running {type(module).__name__} on a random input failed: "
                             f"{type(exc).__name__}: {exc}") from exc
    if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-12, atol=1e-12):
        raise ArgumentError(f"from_torch: {type(module).__name__}.forward does more than run its Sequential "
                            f"(their outputs differ on a random input); convert the Sequential itself")


def parameter_values(module: Any, syms: dict[str, Expr]) -> dict[Expr, np.ndarray]:
    """{symbol: value} of the module's parameters (float64 numpy), for ``md.lambdify``/``md.check(at=...)``."""
    out = {}
    for name, p in module.named_parameters():
        v = p.detach().cpu().double().numpy()
        out[syms[name]] = v
    return out


__all__ = ["from_torch", "parameter_values", "SUPPORTED"]
