"""/healthz: the database, the queue, and the workers taking each queue, for monitoring (no log-in)."""
from __future__ import annotations

import json

from flask import Blueprint, jsonify
from rq import Worker
from sqlalchemy import text

from gateway.web.util import db, queue_conn
from workers import queues
from workers.supervisor import STATUS_KEY

bp = Blueprint("health", __name__)


def workers_report(conn) -> dict:
    """Workers by queue, and what is down: a queue no live worker takes, or a supervised process not running."""
    workers = Worker.all(connection=conn)
    by_queue = {name: sum(name in w.queue_names() for w in workers) for name in queues.ALL}
    down = [f"no worker takes the {name} queue" for name, count in by_queue.items() if not count]
    supervised = {}
    for key in conn.scan_iter(f"{STATUS_KEY}*"):
        for name, unit in json.loads(conn.get(key) or "{}").items():
            supervised[name] = unit
            if not unit["running"]:
                down.append(f"{name} is down ({unit['last_exit']}); being restarted")
    return {"workers": len(workers), "queues": by_queue, "supervised": supervised, "down": down}


@bp.get("/healthz")
def healthz():
    # Any failure of the database or the queue is what this endpoint reports, so every exception is caught.
    report, ok = {}, True
    try:
        db().execute(text("select 1"))
        report["database"] = "ok"
    except Exception as exc:
        report["database"], ok = f"unavailable: {type(exc).__name__}", False
    try:
        conn = queue_conn()
        conn.ping()
        report["queue"] = "ok"
        report.update(workers_report(conn))
    except Exception as exc:
        report["queue"], report["workers"], ok = f"unavailable: {type(exc).__name__}", 0, False
    down = report.get("down", [])
    report["status"] = "ok" if ok and report["workers"] and not down else "degraded"
    return jsonify(report), 200 if ok else 503
