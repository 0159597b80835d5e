"""The application layer: the ``matderiv`` command (``cli``), its ``demo`` and ``table``, and the derivation,
certification and code assembly they share (``derive``)."""
