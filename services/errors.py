"""Typed refusals of the use cases: a code and its parameters, never a sentence.

The front ends render ``error.<code>`` from the locale catalogues with ``params``; nothing has
changed when one is raised.
"""

from __future__ import annotations

from typing import Any


class DeskError(ValueError):
    """Not allowed or not possible now (``code``), with what the message needs (``params``)."""

    def __init__(self, code: str, /, **params: Any) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        details = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{self.code}({details})" if details else self.code
