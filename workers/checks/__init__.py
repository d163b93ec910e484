"""The checks every post passes through, each behind one contract (base.Check) and listed in order in run.CHECKS.

A new check is one module here and one line in run.CHECKS. The list is not imported here, so that using one
check's helpers (links, names) does not load every check and, with the face check, dlib.
"""
