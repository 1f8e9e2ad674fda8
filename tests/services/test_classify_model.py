"""The learned model: naive Bayes weights, the model file, lexicon + model decisions, close calls,
honest cross-validation on the dev set, and corrections closing the loop through the database."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from models.db import create_engine, session_factory
from models.tables import CategoryCorrection, ComplaintCreate
from services import handling, lifecycle
from services import staff as staff_service
from services.classify import DEFAULT_LEXICON_PATH, Classifier, load_lexicon
from services.classify.model import (
    MODEL_VERSION,
    SHIPPED_MODEL_PATH,
    ModelError,
    TokenModel,
    load_model,
    resolve_model_path,
)
from services.classify.retrain import retrain_if_new_corrections
from services.classify.training import (
    Example,
    Statistics,
    TrainingParams,
    complement_weights,
    cross_validate,
    length_factor,
    prepare,
    read_examples,
    stratified_folds,
)
from services.classify_cli import cross_validate_file
from services.domain import Category, Kind

DATA = Path(__file__).parent / "data"
OWN_SETS = [DATA / "chat_messages.tsv", DATA / "chat_messages_holdout.tsv", DATA / "own_sentences.tsv"]
DEV_FILE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "complaints-dev.tsv"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
CATS = list(Category)


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier(load_lexicon(DEFAULT_LEXICON_PATH, overlay=False))


def weights_for(favoured: dict[str, Category], strength: float = 4.0) -> dict[str, tuple[float, ...]]:
    """Hand-made model weights: each word speaks for one category with the given margin."""
    return {word: tuple(strength if c is cat else 0.0 for c in CATS) for word, cat in favoured.items()}


class TestComplementWeights:
    def test_same_as_scikit_learn_complement_nb(self, clf):
        sklearn = pytest.importorskip("sklearn.naive_bayes")
        import numpy as np

        items = prepare(clf, read_examples(DATA / "own_sentences.tsv"))
        params = TrainingParams(min_df=1, prune=0.0)
        ours = complement_weights(Statistics().extend(items), params)
        vocab = sorted(ours)
        column = {w: i for i, w in enumerate(vocab)}
        x = np.zeros((len(items), len(vocab)))
        for row, item in enumerate(items):
            for word in item.words:
                x[row, column[word]] = 1.0
        y = [CATS.index(item.example.category) for item in items]
        weight = [length_factor(len(item.words)) for item in items]
        nb = sklearn.ComplementNB(alpha=params.alpha, norm=False).fit(x, y, sample_weight=weight)
        theirs = nb.feature_log_prob_ - nb.feature_log_prob_.mean(axis=0)  # centred per word
        assert list(nb.classes_) == list(range(len(CATS)))
        for word in vocab:
            assert ours[word] == pytest.approx(tuple(theirs[:, column[word]]), abs=1e-9)

    def test_rare_and_uninformative_words_are_left_out(self, clf):
        items = prepare(clf, read_examples(DATA / "own_sentences.tsv"))
        stats = Statistics().extend(items)
        weights = complement_weights(stats, TrainingParams(min_df=2))
        assert weights and all(stats.df[w] >= 2 for w in weights)
        assert all(max(abs(x) for x in w) >= 0.02 for w in weights.values())


class TestModelFile:
    def test_round_trip(self, tmp_path):
        model = TokenModel(weights=weights_for({"会所": Category.DEVELOPER}),
                           reliability={("category:综合管理", "terms", "会所"): 0.4}, meta={"revision": 3})
        path = model.save(tmp_path / "m.json")
        loaded = load_model(path)
        assert loaded.weights == model.weights and loaded.reliability == model.reliability
        assert loaded.revision == 3 and loaded.path == path
        model.save(path)
        assert (tmp_path / "m.prev.json").exists()  # the previous version is kept

    def test_other_versions_and_garbage_are_refused(self, tmp_path):
        path = TokenModel(weights={}).save(tmp_path / "m.json")
        data = json.loads(path.read_text(encoding="utf-8"))
        data["version"] = MODEL_VERSION + 1
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(ModelError, match="version"):
            load_model(path)
        path.write_text("{not json", encoding="utf-8")
        with pytest.raises(ModelError, match="JSON"):
            load_model(path)
        with pytest.raises(ModelError, match="cannot read"):
            load_model(tmp_path / "absent.json")

    def test_which_model_is_used(self, tmp_path, monkeypatch):
        monkeypatch.delenv("CLASSIFIER_MODEL_PATH", raising=False)
        assert resolve_model_path("off") is None
        assert resolve_model_path(tmp_path / "not-yet.json") == SHIPPED_MODEL_PATH  # nothing retrained yet
        mine = TokenModel(weights={}).save(tmp_path / "mine.json")
        assert resolve_model_path(mine) == mine
        monkeypatch.setenv("CLASSIFIER_MODEL_PATH", str(mine))
        assert resolve_model_path() == mine
        monkeypatch.setenv("CLASSIFIER_MODEL_PATH", "off")
        assert Classifier.load(DEFAULT_LEXICON_PATH, model=True).model is None

    def test_shipped_model_loads(self):
        model = load_model(SHIPPED_MODEL_PATH)
        assert len(model.weights) > 1000 and model.statistics() and model.statistics()["counts"]
        assert all(model.known)

    def test_shipped_model_belongs_to_the_shipped_lexicon(self):
        # after editing lexicon.toml rebuild it (the stored statistics suffice, see docs/classifier.md):
        # python -m bot classify --learn --no-corrections --model services/lexicon/classifier-model.json
        from services.classify.model import lexicon_fingerprint

        assert load_model(SHIPPED_MODEL_PATH).meta["lexicon"]["sha"] == lexicon_fingerprint(DEFAULT_LEXICON_PATH)


class TestCombinedDecision:
    def test_the_model_decides_when_the_lexicon_has_nothing(self, clf):
        text = "独角兽又在门口转悠"
        alone = clf.classify(text)
        assert alone.source == "none" and alone.category is Category.OTHER
        both = Classifier(clf.lexicon, model=TokenModel(weights=weights_for({"独角兽": Category.SECURITY})))
        result = both.classify(text)
        assert result.category is Category.SECURITY and result.source == "model"
        assert result.evidence()[0] == ("category:安全管理", ("独角兽",))
        assert "独角兽" in result.reason() and result.decisive_terms == ("独角兽",)
        assert any(h.source == "model" and h.term == "独角兽" for h in result.keywords)

    def test_strong_lexicon_evidence_is_not_overruled(self, clf):
        text = "5栋电梯坏了三天还没修"
        both = Classifier(clf.lexicon, model=TokenModel(weights=weights_for({"电梯": Category.SECURITY}, 9.0)))
        result = both.classify(text)
        assert result.category is Category.ENGINEERING and result.source == "lexicon"
        assert not result.uncertain

    def test_a_close_call_names_both_categories(self, clf):
        weights = weights_for({"独角兽": Category.SECURITY}, 0.3)
        weights["门口"] = tuple(0.2 if c is Category.NEIGHBOURS else 0.0 for c in CATS)
        both = Classifier(clf.lexicon, model=TokenModel(weights=weights))
        result = both.classify("独角兽又在门口转悠")
        assert result.category is Category.SECURITY
        assert result.uncertain and result.runner_up is Category.NEIGHBOURS
        data = result.to_json_dict()
        assert data["uncertain"] is True and data["runner_up"] == "邻里纠纷" and data["source"] == "model"
        assert "邻里纠纷" in result.reason()

    def test_reliability_factors_weaken_lexicon_terms(self, clf):
        key = next(e.key for e in clf.lexicon.entries if e.term == "会所" and e.target == "category:综合管理")
        text = "会所一直不开放"
        assert clf.classify(text).category is Category.GENERAL
        model = TokenModel(weights=weights_for({"会所": Category.DEVELOPER}, 3.0), reliability={key: 0.1})
        assert Classifier(clf.lexicon, model=model).classify(text).category is Category.DEVELOPER


class TestCrossValidation:
    def test_stratified_folds(self):
        labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 2
        folds = stratified_folds(labels, 5, seed=1)
        assert sorted(i for f in folds for i in f) == list(range(len(labels)))
        assert all(sum(labels[i] == "a" for i in f) == 2 and sum(labels[i] == "b" for i in f) == 1 for f in folds)
        assert folds == stratified_folds(labels, 5, seed=1)
        with pytest.raises(ValueError):
            stratified_folds(labels, 1)

    def test_each_fold_is_fitted_without_its_held_out_messages(self, clf):
        examples = read_examples(DATA / "own_sentences.tsv")
        items = prepare(clf, examples)
        seen_folds = []

        def check(number, model, held_out):
            seen_folds.append(number)
            held = {id(p) for p in held_out}
            only_held = set().union(*(p.words for p in held_out)) - set().union(
                *(p.words for p in items if id(p) not in held))
            assert only_held and only_held.isdisjoint(model.weights)

        cv = cross_validate(clf, examples, folds=4, prepared=items, params=TrainingParams(min_df=1, prune=0.0),
                            on_fold=check)
        assert seen_folds == [1, 2, 3, 4] and sum(f.combined.n for f in cv.folds) == len(examples)

    @pytest.mark.skipif(not DEV_FILE.exists(), reason=f"labelled dev set not found at {DEV_FILE}")
    def test_dev_set_cross_validated_targets(self, clf, capsys):
        out = io.StringIO()
        cv = cross_validate_file(DEV_FILE, out, folds=5, extra=OWN_SETS, classifier=clf)
        with capsys.disabled():
            print("\n" + out.getvalue())
        for scores in (cv.mean("combined"), cv.pooled["combined"]):
            assert scores.accuracy >= 0.85
            assert scores.macro_f1 >= 0.70
            assert scores.kind_accuracy >= 0.93
        assert len(cv.folds) == 5 and cv.extra == 354


class TestCorrectionsCloseTheLoop:
    TEXTS = [f"{b}号楼{where}的电动车充电桩{what}" for b, where, what in [
        (1, "车棚", "坏了充不上电"), (2, "楼下", "扫码没反应"), (3, "地库", "一直显示故障"), (5, "车棚", "又坏了"),
        (6, "门口", "充一晚上没充进去"), (7, "车棚", "插上就跳闸"), (8, "楼下", "屏幕不亮"), (9, "车棚", "收了钱不充电"),
        (10, "地库", "坏了好几天"), (11, "车棚", "充电口松了"), (12, "楼下", "扣费了没充上"), (13, "车棚", "充不进电"),
        (15, "门口", "扫码付款后不通电"), (16, "车棚", "有两个口坏了"), (17, "地库", "老是断电"), (18, "车棚", "一直亮红灯"),
        (19, "楼下", "充电很慢"), (20, "车棚", "插头坏了"), (21, "地库", "没法用"), (22, "车棚", "用不了"),
    ]]
    FRESH = "车棚那排充电桩又用不了了，扫了码也不通电"

    @staticmethod
    async def file_and_correct(session, classifier, texts, category, *, start=0):
        """File each text as a resident would and let a manager correct its category."""
        await staff_service.seed_teams(session)
        _, code = await staff_service.create_invite(session, name=f"经理{start}", team_code=None, role="manager",
                                                    now=NOW)
        manager = await staff_service.redeem_invite(session, code, telegram_id=9000 + start, chat_id=9000 + start,
                                                    now=NOW)
        for n, text in enumerate(texts, start=start):
            resident = await lifecycle.get_or_create_resident(
                session, lifecycle.ResidentProfile(telegram_id=100 + n, chat_id=100 + n, name=f"r{n}"))
            complaint = await lifecycle.submit_complaint(
                session, resident=resident, classification=classifier.classify(text), draft_key=f"d{n}",
                tz=ZoneInfo("Asia/Shanghai"), now=NOW, data=ComplaintCreate(description=text, location="1栋"))
            await session.commit()
            assert await handling.correct_category(session, complaint, manager, category.value, now=NOW)

    async def test_twenty_corrections_teach_a_fresh_message(self, sqlite_url, tmp_path):
        classifier = Classifier(load_lexicon(DEFAULT_LEXICON_PATH, overlay=False), model=load_model(SHIPPED_MODEL_PATH))
        lexicon_bytes = DEFAULT_LEXICON_PATH.read_bytes()
        assert classifier.classify(self.FRESH).category is Category.ENGINEERING
        engine = create_engine(sqlite_url)
        try:
            async with session_factory(engine)() as session:
                await self.file_and_correct(session, classifier, self.TEXTS, Category.GENERAL)
                stored = await handling.corrections(session)
                assert len(stored) == 20 and {c.corrected for c in stored} == {"综合管理"}
                result = await retrain_if_new_corrections(session, classifier, model_path=tmp_path / "model.json",
                                                          now=NOW)
        finally:
            await engine.dispose()
        assert result is not None and result.corrections == 20 and result.new_corrections == 20
        fresh = classifier.classify(self.FRESH)
        assert fresh.category is Category.GENERAL and fresh.source == "model"
        assert "充电桩" in fresh.decisive_terms
        assert classifier.classify("5栋电梯坏了三天还没修").category is Category.ENGINEERING
        assert DEFAULT_LEXICON_PATH.read_bytes() == lexicon_bytes  # no lexicon edit
        saved = load_model(tmp_path / "model.json")
        assert saved.revision == load_model(SHIPPED_MODEL_PATH).revision + 1
        assert saved.meta["training"]["last_correction_id"] == stored[-1].id
        # the saved model alone, in a fresh classifier (a restart), decides the same way
        restarted = Classifier(load_lexicon(DEFAULT_LEXICON_PATH, overlay=False), model=saved)
        assert restarted.classify(self.FRESH).category is Category.GENERAL

    async def test_retrain_only_when_there_is_something_new(self, sqlite_url, tmp_path):
        classifier = Classifier(load_lexicon(DEFAULT_LEXICON_PATH, overlay=False), model=load_model(SHIPPED_MODEL_PATH))
        path = tmp_path / "model.json"
        engine = create_engine(sqlite_url)
        try:
            async with session_factory(engine)() as session:
                assert await retrain_if_new_corrections(session, classifier, model_path=path, now=NOW) is None
                await self.file_and_correct(session, classifier, self.TEXTS[:2], Category.GENERAL)
                first = await retrain_if_new_corrections(session, classifier, model_path=path, now=NOW)
                assert first is not None and first.new_corrections == 2
                assert await retrain_if_new_corrections(session, classifier, model_path=path, now=NOW) is None
                await self.file_and_correct(session, classifier, self.TEXTS[2:3], Category.GENERAL, start=50)
                second = await retrain_if_new_corrections(session, classifier, model_path=path, now=NOW)
        finally:
            await engine.dispose()
        assert second is not None and (second.corrections, second.new_corrections) == (3, 1)
        assert second.model.revision == first.model.revision + 1 and classifier.model is second.model


class TestScheduledRetrain:
    async def test_once_a_day_after_the_configured_time(self, sqlite_url, tmp_path):
        from scheduler.classifier import ClassifierRetrain

        tz = ZoneInfo("Asia/Shanghai")
        now = [datetime(2026, 11, 25, 2, 30, tzinfo=tz)]
        classifier = Classifier(load_lexicon(DEFAULT_LEXICON_PATH, overlay=False), model=load_model(SHIPPED_MODEL_PATH))
        engine = create_engine(sqlite_url)
        sessions = session_factory(engine)
        job = ClassifierRetrain(sessions, classifier, at=time(3, 0), tz=tz, model_path=tmp_path / "m.json",
                                clock=lambda: now[0])
        try:
            async with sessions() as session:
                await TestCorrectionsCloseTheLoop.file_and_correct(
                    session, classifier, TestCorrectionsCloseTheLoop.TEXTS[:3], Category.GENERAL)
            assert await job.tick() is None and not (tmp_path / "m.json").exists()  # 02:30: not yet
            now[0] = datetime(2026, 11, 25, 3, 5, tzinfo=tz)
            done = await job.tick()
            assert done is not None and done.new_corrections == 3 and (tmp_path / "m.json").exists()
            assert classifier.model is done.model
            now[0] += timedelta(hours=5)
            assert await job.tick() is None  # once a day
            now[0] = datetime(2026, 11, 26, 3, 1, tzinfo=tz)
            assert await job.tick() is None and job.last_day == now[0].date()  # looked: nothing new
            async with sessions() as session:
                session.add(CategoryCorrection(complaint_id=1, text="车棚充电桩扫码后一直不通电",
                                               predicted="工程管理", corrected="综合管理", at=NOW))
                await session.commit()
            now[0] = datetime(2026, 11, 27, 3, 0, tzinfo=tz)
            again = await job.tick()
            assert again is not None and again.new_corrections == 1 and again.model.revision == done.model.revision + 1
        finally:
            await engine.dispose()

    def test_off_never_runs(self, tmp_path):
        from bot.settings import Settings
        from scheduler.classifier import ClassifierRetrain

        settings = Settings(_env_file=None, classifier_retrain_at="off", classifier_model_path=str(tmp_path / "m.json"))
        job = ClassifierRetrain.from_settings(None, None, settings)
        assert job.at is None and job.due(datetime(2026, 11, 25, 12, 0, tzinfo=UTC)) is None
        job = ClassifierRetrain.from_settings(None, None, Settings(_env_file=None, classifier_model_path="off"))
        assert job.at is None


class TestCli:
    def test_cross_validation_report(self, clf):
        out = io.StringIO()
        cv = cross_validate_file(DATA / "own_sentences.tsv", out, folds=3, classifier=clf)
        text = out.getvalue()
        assert "3-fold cross-validation on own_sentences.tsv" in text
        lines = text.splitlines()
        assert [line.split()[0] for line in lines if line.split() and line.split()[0].isdigit()] == ["1", "2", "3"]
        assert any(line.startswith("mean") for line in lines) and any(line.startswith("pooled") for line in lines)
        assert 0.0 <= cv.pooled["combined"].accuracy <= 1.0

    async def test_learn_without_corrections_writes_a_model(self, tmp_path):
        from bot import learn
        from bot.settings import Settings

        out = io.StringIO()
        code = await learn.learn_from_corrections(out=out, settings=Settings(_env_file=None), model=tmp_path / "m.json",
                                                  train=OWN_SETS[:1], corrections=False, now=NOW)
        assert code == 0, out.getvalue()
        model = load_model(tmp_path / "m.json")
        assert model.meta["training"]["sources"] == {"chat_messages.tsv": 159}
        assert model.meta["created"].startswith("2026-11-25")

    def test_examples_read_like_the_evaluation(self, tmp_path):
        path = tmp_path / "x.tsv"
        path.write_text("id\tcategory\tkind\ttitle\tdetail\n1\t工程管理\t投诉\t电梯坏了\t三天了\n2\t其他\t咨询\t问下\n",
                        encoding="utf-8")
        assert read_examples(path) == [
            Example(text="电梯坏了\u3002三天了", category=Category.ENGINEERING, kind=Kind.COMPLAINT, source="x.tsv"),
            Example(text="问下", category=Category.OTHER, kind=Kind.INQUIRY, source="x.tsv"),
        ]
        path.write_text("1\t物业\t投诉\tx\n", encoding="utf-8")
        with pytest.raises(ValueError, match="line 1"):
            read_examples(path)


class TestLazyStatistics:
    """The stored statistics (``base``) stay JSON text until retraining asks for them."""

    def test_shipped_model_statistics_are_parsed_at_first_use(self):
        import json

        model = load_model(SHIPPED_MODEL_PATH)
        assert model.base is None and model.base_text
        whole = json.loads(SHIPPED_MODEL_PATH.read_text(encoding="utf-8"))
        assert model.statistics() == whole["base"] and model.base_text is None
        assert model.meta == {k: v for k, v in whole.items()
                              if k not in ("weights", "reliability", "base", "classes", "known")}

    def test_any_member_order_and_a_save_round_trip(self, tmp_path):
        import json

        whole = json.loads(SHIPPED_MODEL_PATH.read_text(encoding="utf-8"))
        reordered = {"base": whole["base"], **{k: v for k, v in whole.items() if k != "base"}}
        path = tmp_path / "reordered.json"
        path.write_text(json.dumps(reordered, ensure_ascii=False, indent=1), encoding="utf-8")
        model = load_model(path)
        assert model.base_text is None and model.statistics() == whole["base"]
        saved = load_model(model.save(tmp_path / "saved.json"))
        assert saved.statistics() == whole["base"] and saved.weights == model.weights
