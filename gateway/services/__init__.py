"""Use cases: the only code that commits, then enqueues."""
