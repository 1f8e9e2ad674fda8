"""Retraining the learned model from staff corrections stored in the database (no Telegram).

Used by ``python -m bot classify --learn`` and by the scheduled job
(:class:`scheduler.classifier.ClassifierRetrain`).  Not imported by ``services.classify``: it
needs the database layer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from services import handling
from services.classify.classifier import Classifier
from services.classify.model import SHIPPED_MODEL_PATH, ModelError, TokenModel, load_model
from services.classify.training import Example, Statistics, TrainingParams, base_statistics, train
from services.domain import Category

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainResult:
    """What a retrain did."""

    model: TokenModel
    path: Path
    corrections: int  # corrections the model was trained on
    new_corrections: int  # … of which the previous model had not seen
    base: str  # where the labelled sets' statistics came from


def parse_training_paths(raw: str | None) -> list[Path]:
    """CLASSIFIER_TRAINING_PATH: comma-separated labelled TSV files (empty: none)."""
    return [Path(p.strip()) for p in (raw or "").split(",") if p.strip()]


def labelled_statistics(classifier: Classifier, training_paths: Sequence[str | Path]) -> tuple[Statistics, str]:
    """The labelled sets' statistics: from ``training_paths`` when given, else from the current
    model, else from the shipped model (empty when there is none)."""
    if training_paths:
        return base_statistics(classifier, training_paths), ", ".join(Path(p).name for p in training_paths)
    current = classifier.model
    if current is not None and current.statistics():
        return Statistics.from_json(current.statistics()), \
            f"the statistics stored in {current.path or 'the current model'}"
    try:
        shipped = load_model(SHIPPED_MODEL_PATH)
    except ModelError as exc:
        log.warning("no labelled training statistics (%s): training on corrections only", exc)
        return Statistics(), "nothing (corrections only)"
    return Statistics.from_json(shipped.statistics() or {"docs": [0.0] * len(Category), "counts": {}, "df": {}}), \
        f"the statistics stored in {SHIPPED_MODEL_PATH.name}"


def _seen(model: TokenModel | None) -> int | None:
    if model is None:
        return None
    value = model.meta.get("training", {}).get("last_correction_id")
    return int(value) if value is not None else None


async def retrain_if_new_corrections(
    session: AsyncSession,
    classifier: Classifier,
    *,
    model_path: str | Path,
    now: datetime,
    training_paths: Sequence[str | Path] = (),
    params: TrainingParams = TrainingParams(),
    force: bool = False,
) -> RetrainResult | None:
    """Retrain when staff stored corrections the current model has not seen (or ``force``).

    The new model (labelled sets + every stored correction) is written to ``model_path`` and
    put to use in ``classifier`` at once.  Returns None when there was nothing new.
    """
    rows = await handling.corrections(session)
    newest = rows[-1].id if rows else None
    seen = _seen(classifier.model)
    if not force and (newest is None or (seen is not None and newest <= seen)):
        return None
    corrections = [Example(text=r.text, category=Category(r.corrected), source="corrections") for r in rows]
    new = sum(1 for r in rows if seen is None or (r.id or 0) > seen)
    current = classifier.model
    revision = current.revision + 1 if current is not None else 1

    def build() -> tuple[TokenModel, str]:
        base, where = labelled_statistics(classifier, training_paths)
        model = train(classifier, base=base, corrections=corrections, params=params, now=now, revision=revision,
                      last_correction_id=newest)
        return model, where

    model, where = await asyncio.to_thread(build)  # CPU work: keep the event loop free
    path = model.save(model_path)
    classifier.set_model(model)
    log.info("classifier model revision %d: %d correction(s), %d new, written to %s", revision, len(rows), new, path)
    return RetrainResult(model=model, path=path, corrections=len(rows), new_corrections=new, base=where)
