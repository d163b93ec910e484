"""The checks every post passes through, each behind one contract."""
