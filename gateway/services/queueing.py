"""Commit, then enqueue, the same way everywhere: the database is the truth, so a queue out of reach only
delays the work (the reconciler finds it in the database and queues it once the queue is back)."""
from __future__ import annotations

import logging
from collections.abc import Callable

from workers import queues

log = logging.getLogger(__name__)

QUEUE_DOWN = "Saved. The queue is not answering right now; the work starts as soon as it is back."


def commit_then_enqueue(session, settings, enqueue: Callable[[object], None], what: str, conn=None) -> bool:
    """Commit the session, then call enqueue(queue connection). True once queued; False, logged, when the
    queue is out of reach. Any other error is a bug and is raised."""
    session.commit()
    try:
        enqueue(conn if conn is not None else queues.connection(settings))
    except queues.ERRORS:
        # end what the enqueue began (reading a row opens a transaction, which holds SQLite's write lock until
        # it ends); everything that matters was committed above, and the reconciler redoes the rest
        session.rollback()
        log.warning("%s is saved but not queued: %s is out of reach; the reconciler will queue it",
                    what, queues.where(settings))
        return False
    return True
