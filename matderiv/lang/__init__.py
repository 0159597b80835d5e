"""The MatrixCalculus-style text language: :func:`parse` reads it, :func:`to_text` writes it."""
from __future__ import annotations

from .parse import Kind, parse, parse_kinds
from .printer import to_text

__all__ = ["parse", "parse_kinds", "Kind", "to_text"]
