"""The original and the cleaned text side by side, with every change the checks made marked."""
from __future__ import annotations

from markupsafe import Markup, escape


def marked(original: str, changes: list[dict]) -> tuple[Markup, Markup]:
    """HTML for (original with changed spans in <del>, cleaned with replacements in <ins>)."""
    before, after, pos = [], [], 0
    for change in sorted(changes, key=lambda c: c["start"]):
        kept = escape(original[pos:change["start"]])
        before += [kept, Markup("<del>%s</del>") % original[change["start"]:change["end"]]]
        after += [kept, Markup("<ins>%s</ins>") % change["replacement"] if change["replacement"] else Markup("<ins class=removed>(removed)</ins>")]
        pos = change["end"]
    tail = escape(original[pos:])
    return Markup("").join([*before, tail]), Markup("").join([*after, tail])
