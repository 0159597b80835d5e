"""Conversions to and from other libraries' expressions: SymPy's matrix expressions, torch's nn.Sequential."""
from __future__ import annotations

from .sympy import from_sympy, to_sympy
from .torch import from_torch, parameter_values as torch_parameters  # torch itself is imported lazily

__all__ = ["from_sympy", "to_sympy", "from_torch", "torch_parameters"]
