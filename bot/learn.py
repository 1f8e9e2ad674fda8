"""``python -m bot classify --learn``: retrain the classifier's model from the labelled sets and the
staff corrections stored in the database (and, on request, write a lexicon weight overlay)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.settings import Settings
from models.db import create_engine, session_factory, upgrade
from models.types import utcnow
from services import handling
from services.classify import Classifier, learn_weights, load_lexicon, write_overlay
from services.classify.model import OFF_VALUES, load_default_model


def training_paths(settings: Settings, given: list[Path] | None) -> list[Path]:
    """``--train`` files, else ``CLASSIFIER_TRAINING_PATH`` (comma-separated), else none."""
    from services.classify.retrain import parse_training_paths

    return list(given) if given else parse_training_paths(settings.classifier_training_path)


async def learn_from_corrections(*, out: TextIO, settings: Settings | None = None, overlay: Path | None = None,
                                 model: Path | None = None, train: list[Path] | None = None,
                                 corrections: bool = True, now: datetime | None = None) -> int:
    """Retrain and write the model; with ``overlay`` also write learned lexicon weights there."""
    from services.classify.retrain import retrain_if_new_corrections

    settings = settings or Settings()
    target = model or (Path(settings.classifier_model_path)
                       if settings.classifier_model_path.strip().lower() not in OFF_VALUES else None)
    if target is None:
        out.write("CLASSIFIER_MODEL_PATH is off: give --model PATH to write a model\n")
        return 2
    paths = training_paths(settings, train)
    for path in paths:
        if not path.exists():
            out.write(f"training file not found: {path}\n")
            return 2
    # the model in use (the target file, else the shipped one): the new revision follows it
    classifier = Classifier(load_lexicon(settings.lexicon_path, overlay=False), model=load_default_model(target))
    now = now or utcnow()
    if corrections:
        await upgrade(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                rows = await handling.corrections(session)
                result = await retrain_if_new_corrections(session, classifier, model_path=target, now=now,
                                                          training_paths=paths, force=True)
        finally:
            await engine.dispose()
    else:
        from services.classify.retrain import labelled_statistics
        from services.classify.training import train as fit_model

        rows = []
        base, where = labelled_statistics(classifier, paths)
        revision = classifier.model.revision + 1 if classifier.model is not None else 1
        fitted = fit_model(classifier, base=base, now=now, revision=revision)
        fitted.save(target)
        result = None
        out.write(f"model revision {revision} written to {target}: {base.examples} labelled message(s) "
                  f"from {where}, no corrections\n")
    if result is not None:
        training = result.model.meta["training"]
        out.write(f"model revision {result.model.revision} written to {result.path}: "
                  f"{training['examples']} message(s) — labelled sets from {result.base}, "
                  f"{result.corrections} staff correction(s)\n")
        if not rows:
            out.write("no category corrections stored yet: staff make them with the category button of a ticket\n")
    if overlay is not None and rows:
        lexicon = load_lexicon(settings.lexicon_path, overlay=overlay if overlay.exists() else False)
        adjustments = learn_weights([(r.text, r.predicted, r.corrected) for r in rows], lexicon)
        changed = sum(len(terms) for category in adjustments.get("category", {}).values()
                      for terms in category.values())
        if changed:
            write_overlay(adjustments, overlay)
            out.write(f"{len(rows)} correction(s) → {changed} lexicon weight(s) written to {overlay}\n")
            out.write(f"the bot uses it after a restart with LEXICON_OVERLAY_PATH={overlay}\n")
        else:
            out.write(f"{len(rows)} correction(s): the lexicon weights already agree, no overlay written\n")
    return 0
