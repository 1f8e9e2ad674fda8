"""The classifier retrain job: once a day at CLASSIFIER_RETRAIN_AT (local time), retrain the learned
model if staff stored category corrections it has not seen, and use it at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.types import utcnow
from services.classify import Classifier
from services.classify.retrain import RetrainResult, retrain_if_new_corrections

log = logging.getLogger(__name__)


class ClassifierRetrain:
    """One look per tick: has today's retrain time come, and are there new corrections?

    The model file records the last correction it was trained on, so a restart (or a second bot
    process) does not retrain for nothing; a day without new corrections costs one query.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], classifier: Classifier, *, at: time | None,
                 tz: ZoneInfo, model_path: str | Path, training_paths: Sequence[str | Path] = (),
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.classifier = classifier
        self.at = at
        self.tz = tz
        self.model_path = Path(model_path)
        self.training_paths = tuple(training_paths)
        self.clock = clock
        self.last_day: date | None = None  # the local day of the last look

    @classmethod
    def from_settings(cls, sessions: async_sessionmaker[AsyncSession], classifier: Classifier, settings,
                      clock: Callable[[], datetime] = utcnow) -> ClassifierRetrain:
        """The job as configured (CLASSIFIER_RETRAIN_AT, CLASSIFIER_MODEL_PATH, CLASSIFIER_TRAINING_PATH)."""
        from services.classify.model import OFF_VALUES
        from services.classify.retrain import parse_training_paths

        path = settings.classifier_model_path
        at = settings.classifier_retrain_at if path.strip().lower() not in OFF_VALUES else None
        return cls(sessions, classifier, at=at, tz=settings.tz, model_path=path,
                   training_paths=parse_training_paths(settings.classifier_training_path), clock=clock)

    def due(self, now: datetime) -> date | None:
        """Today's local date if the retrain time has passed and today was not looked at yet."""
        if self.at is None:
            return None
        local = now.astimezone(self.tz)
        if local.time() < self.at or local.date() == self.last_day:
            return None
        return local.date()

    async def tick(self) -> RetrainResult | None:
        now = self.clock()
        day = self.due(now)
        if day is None:
            return None
        self.last_day = day  # one look a day, even if it fails: the next day tries again
        async with self.sessions() as session:
            result = await retrain_if_new_corrections(session, self.classifier, model_path=self.model_path, now=now,
                                                      training_paths=self.training_paths)
        if result is not None:
            log.info("classifier retrained: revision %d, %d new correction(s)", result.model.revision,
                     result.new_corrections)
        return result
