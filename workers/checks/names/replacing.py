"""How much of the text a name to be replaced takes: the other parts of a hyphenated name, the
initial of the surname ("Amelia S."), a possessive ending."""
from __future__ import annotations

import re

from workers.checks.names.folding import sentence_start
from workers.checks.names.model import Action
from workers.checks.names.scan import Atom, Scan


def _form_of(entries) -> str:
    """The form for the finding when the name is several people's, in different forms."""
    forms = {e[2] for e in entries}
    if len(forms) == 1:
        return forms.pop()
    if "full" in forms:
        return "full"
    if forms <= {"first", "preferred"}:
        return "first"
    return "name"


def _hyphen_start(s: Scan, i: int, start_atom: Atom | None) -> int:
    """A hyphenated name of which this is one part ("Amelia-Rose" with only Amelia on the roster)."""
    atoms, n = s.atoms, s.t.n
    prev_end = s.plan.last_replace.n_end if s.plan.last_replace else 0
    while (start_atom is None and i > 0 and n[atoms[i - 1].ne:atoms[i].ns] == "-"
           and atoms[i - 1].zone is None and n[atoms[i - 1].ns].isupper()
           and atoms[i - 1].ns >= prev_end):
        i -= 1
    return i


def _with_initial(s: Scan, j: int, pids: list[int]) -> tuple[int, int] | None:
    """"Amelia S.": with the initial of the pupil's surname, the end atom and whether the dot goes too."""
    atoms, n = s.atoms, s.t.n
    if not (j < len(atoms) and atoms[j].zone is None
            and atoms[j].ne - atoms[j].ns == 1 and n[atoms[j].ns].isupper()
            and n[atoms[j - 1].ne:atoms[j].ns] in (" ", "\u00a0")
            and any(atoms[j].key in s.roster.surname_initials.get(p, ()) for p in pids)
            and (atoms[j].ne == len(n) or not n[atoms[j].ne].isalnum())):
        return None
    dot = atoms[j].ne
    if n[dot:dot + 1] == "." and not re.match(r"\.(?:$|\s*[\r\n]|\s+[A-Z])", n[dot:dot + 3]):
        return j + 1, 1                         # "Amelia S. won", "Amelia S., Jacob J.": the dot goes too
    return j + 1, 0


def add_replace(s: Scan, i: int, j: int, chosen, is_staff: bool, start_atom: Atom | None = None) -> int:
    """Plan the replacement of the name in atoms [i, j) (from start_atom, a title, if given);
    return the next atom to look at."""
    atoms, n, t = s.atoms, s.t.n, s.t
    form = _form_of(chosen)
    pids = sorted({e[0] for e in chosen})
    start_i = _hyphen_start(s, i, start_atom)
    while (j < len(atoms) and atoms[j].zone is None and n[atoms[j - 1].ne:atoms[j].ns] == "-"
           and n[atoms[j].ns].isupper()):
        j += 1
    end_extra = 0
    if form in ("first", "preferred"):
        initial = _with_initial(s, j, pids)
        if initial is not None:
            (j, end_extra), form = initial, "first+initial"
    end = atoms[j - 1].ne + end_extra
    possessive = None
    if (j < len(atoms) and n[end:atoms[j].ns] == "'" and atoms[j].key == "s"
            and (atoms[j].ne == len(n) or not n[atoms[j].ne].isalnum())):
        possessive = t.apostrophe(end)
        end = atoms[j].ne
        j += 1
    elif (n[end:end + 1] == "'" and atoms[j - 1].key.endswith("s")
          and (end + 1 == len(n) or not n[end + 1].isalnum())):
        possessive = t.apostrophe(end)
        end += 1
    s_atom = start_atom if start_atom is not None else atoms[start_i]
    os_, oe = t.ospan(s_atom.ns, end)
    letters = [c for c in t.orig[os_:oe] if c.isalpha()]
    s.plan.last_replace = Action(
        os_, oe, os_, oe, "replace", is_staff, pids, form, possessive,
        sentence_start(n, s_atom.ns), len(letters) > 1 and all(c.isupper() for c in letters),
        s_atom.ns, end,
    )
    s.plan.actions.append(s.plan.last_replace)
    return j
