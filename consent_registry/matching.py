"""Matching face encodings against every enrolled template at once."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from consent_registry.models import FaceTemplate
from gateway.core.crypto import decrypt, encrypt

DIMENSIONS = 128


def seal(key: bytes, person_id: int, encoding: np.ndarray) -> bytes:
    return encrypt(key, np.asarray(encoding, dtype="<f8").tobytes(), f"face-template:{person_id}")


def unseal(key: bytes, person_id: int, blob: bytes) -> np.ndarray:
    return np.frombuffer(decrypt(key, blob, f"face-template:{person_id}"), dtype="<f8")


@dataclass(frozen=True)
class Match:
    person_id: int | None
    distance: float | None        # to the best person
    runner_up: float | None       # to the next-best person


class Gallery:
    """Every template in one matrix; a person's distance is that of their closest template."""

    def __init__(self, person_ids: np.ndarray, templates: np.ndarray):
        order = np.argsort(person_ids, kind="stable")
        self.person_ids = person_ids[order]
        self.templates = templates[order].reshape(-1, DIMENSIONS)
        self.people, self.starts = np.unique(self.person_ids, return_index=True)
        self.norms = (self.templates ** 2).sum(axis=1)

    @classmethod
    def load(cls, session, key: bytes) -> "Gallery":
        rows = session.execute(select(FaceTemplate.person_id, FaceTemplate.encrypted)).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.array([unseal(key, pid, blob) for pid, blob in rows]).reshape(-1, DIMENSIONS)
        return cls(ids, vectors)

    def match(self, encodings, tolerance: float, margin: float) -> list[Match]:
        """Matched only if the best person is within tolerance and the next-best is further by the margin."""
        encodings = np.asarray(encodings, dtype=float).reshape(-1, DIMENSIONS)
        if len(self.people) == 0:
            return [Match(None, None, None) for _ in encodings]
        # |a - b|² = |a|² + |b|² - 2a·b: one matrix product instead of a faces × templates × 128 array
        squared = (encodings ** 2).sum(axis=1)[:, None] + self.norms[None, :] - 2 * encodings @ self.templates.T
        per_template = np.sqrt(np.maximum(squared, 0))
        per_person = np.minimum.reduceat(per_template, self.starts, axis=1)
        results = []
        for row in per_person:
            best = int(np.argmin(row))
            distance = float(row[best])
            runner_up = float(np.partition(row, 1)[1]) if len(row) > 1 else None
            sure = distance <= tolerance and (runner_up is None or runner_up - distance >= margin)
            results.append(Match(int(self.people[best]) if sure else None, distance, runner_up))
        return results
