"""Conversions to and from other libraries' expressions: SymPy's matrix expressions."""
from __future__ import annotations

from .sympy import from_sympy, to_sympy

__all__ = ["from_sympy", "to_sympy"]
