"""Checking derivatives: the certificate of formulas (:mod:`.certificate`), and checks of gradients a user
computed — hand-written numpy, VJPs, any Python or torch function (:mod:`.user`, :mod:`.gradcheck`) — against
the references of :mod:`.reference` (mpmath central and one-sided differences, float64 Richardson extrapolation).
"""
from __future__ import annotations

from .certificate import CheckReport, check, check_vjp
from .compare import GradReport
from .gradcheck import gradcheck

__all__ = ["check", "CheckReport", "check_vjp", "GradReport", "gradcheck"]
