"""Explainable keyword classifier for resident complaint messages.

A message is normalised (NFKC, Traditional → Simplified, lower case; see ``services.text_norm``),
cut into words with a private jieba tokenizer that knows the property-management vocabulary, and
matched against a weighted keyword lexicon (``services/lexicon/lexicon.toml`` by default, or the
file named by ``LEXICON_PATH``; an optional overlay of learned weights from
``LEXICON_OVERLAY_PATH`` is merged over it).  ``docs/classifier.md`` documents the rules.

Modules: :mod:`.lexicon` (loading and validating the lexicon), :mod:`.segment` (jieba),
:mod:`.result` (the returned types), :mod:`.classifier` (matching and deciding) and
:mod:`.learning` (weights from staff corrections).
"""

from services.classify.classifier import Classifier, content_words, get_classifier
from services.classify.classifier import _reset_default_classifier  # noqa: F401  (tests, admin reload)
from services.classify.learning import learn_weights, write_overlay
from services.classify.lexicon import (
    DEFAULT_LEXICON_PATH,
    LEXICON_ENV,
    OVERLAY_ENV,
    Entry,
    Lexicon,
    LexiconError,
    load_lexicon,
)
from services.classify.result import Classification, KeywordHit

__all__ = [
    "Classification",
    "Classifier",
    "DEFAULT_LEXICON_PATH",
    "Entry",
    "KeywordHit",
    "LEXICON_ENV",
    "Lexicon",
    "LexiconError",
    "OVERLAY_ENV",
    "content_words",
    "get_classifier",
    "learn_weights",
    "load_lexicon",
    "write_overlay",
]
