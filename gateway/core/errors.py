"""Refusals: what the gateway turns down, in plain words, as opposed to bugs."""
from __future__ import annotations


class Refused(Exception):
    """A request turned down for reasons the person who asked can act on; views and commands show the reasons.
    Anything else that goes wrong is a bug and is never caught as a refusal."""

    def __init__(self, *reasons: str):
        self.reasons = [r for r in reasons if r]
        super().__init__(" ".join(self.reasons))


class Problem(str):
    """A problem with what someone entered, in words, with the name of the form field it is about (None: the whole
    form); pages link it to that field and mark the field invalid."""

    field: str | None

    def __new__(cls, message: str, field: str | None = None):
        problem = super().__new__(cls, message)
        problem.field = field
        return problem
