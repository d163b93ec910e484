"""The worker process: rq's worker with its scheduler; its maintenance round reconciles and purges."""
from __future__ import annotations

import logging

from rq import Worker

from consent_registry.registry import name_matcher
from gateway.db import session_for
from workers import queues
from workers.purge import purge_import_previews, purge_originals
from workers.reconcile import reconcile

log = logging.getLogger(__name__)


class GatewayWorker(Worker):
    settings = None

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        lock = self.connection.lock("gateway:reconcile", timeout=300, blocking=False)
        if not lock.acquire():
            return
        try:
            log.info("reconciled: %s", reconcile(self.settings))
            with session_for(self.settings.database_url) as session:
                name_matcher(session, self.settings)  # built here, so every forked job finds it ready
            purge_import_previews(self.settings)
            purged = purge_originals(self.settings)
            if purged:
                log.info("originals deleted for posts %s", purged)
        except Exception:
            log.exception("maintenance failed; will try again next round")
        finally:
            lock.release()


def run(settings, burst: bool = False) -> None:
    conn = queues.connection(settings)
    worker = GatewayWorker(
        [queues.CHECKS, queues.PUBLISH], connection=conn,
        maintenance_interval=settings.reconcile_seconds,
        # the idle wait for a job is worker_ttl - 15 s, so maintenance runs about every reconcile_seconds
        worker_ttl=settings.reconcile_seconds + 15,
    )
    worker.settings = settings
    worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
