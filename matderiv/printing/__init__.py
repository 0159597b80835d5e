"""Display: ``str(e)`` (:mod:`.text`), LaTeX (:mod:`.latex`) and the ``where`` form of long formulas
(:mod:`.where`). Importing this package attaches ``__str__`` and ``_repr_latex_`` to expressions."""
from __future__ import annotations

from . import latex, text  # noqa: F401  (attach Expr.__str__ and Expr._repr_latex_)
