"""The keyword classifier: matching a message against the lexicon and deciding."""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from services.classify.lexicon import _DEFAULT_SETTINGS, Entry, Lexicon, load_lexicon
from services.classify.model import TokenModel, lexicon_fingerprint, lexicon_weights, load_default_model
from services.classify.result import LEXICON, MODEL, NONE, Classification, KeywordHit
from services.classify.segment import _Segmenter, _new_tokenizer
from services.domain import Category, Flag, Kind, Severity
from services.text_norm import normalize

_LEAD_TARGETS = ("category:", "kind:")  # evidence that makes a sentence the lead …
_OPENER_MAX_CHARS = 10  # … a shorter opening sentence without it is a greeting / introduction
_MAX_SKIPPED_OPENERS = 2
_URGENT_FLAGS = frozenset({Flag.LAWSUIT, Flag.MEDIA, Flag.GROUP})
_OTHER_TARGET = f"category:{Category.OTHER.value}"
_COMPLAINT, _INQUIRY, _SUGGESTION = (f"kind:{kind.value}" for kind in (Kind.COMPLAINT, Kind.INQUIRY, Kind.SUGGESTION))
_NO_FLAGS: frozenset[Flag] = frozenset()
_NOTHING: Any = object()  # a token that starts no lexicon term and hides none
log = logging.getLogger(__name__)
_COMPOUND_CACHE_MAX = 50_000  # tokens remembered per classifier (cleared when full)
CONTENT_WORDS_REMEMBERED = 2048  # texts whose content words a classifier remembers (least recently used go)
# what a term found inside a compound may vote for: the *topic* (category, property context,
# severity) — not the kind ("强烈要求", "怎么办" are words of their own) nor flag gates ("主管部门")
_COMPOUND_GROUPS = ("category:", "context:", "severity:")
# sentence ends in normalised text (NFKC has turned full-width "！？；" into ASCII): the
# ideographic full stop U+3002, "!", "?", ";" and line breaks
_SENTENCE_RX = re.compile(r"[\u3002!?\n;]+")
# A named tuple made by tuple.__new__ is the same object as one made by its class, at half the
# cost of the generated __new__: the scan and the decision make a few per message.
_tuple_new = tuple.__new__


def _punctuation() -> frozenset[str]:
    """Punctuation and white space (ASCII, Latin-1, general and CJK punctuation, full-width
    forms), plus the symbols people type as separators (~ < > |, full-width tilde)."""
    chars = set("\n\r\t~<>|") | {chr(0xFF5E)}
    for low, high in ((0x20, 0x7F), (0xA0, 0x100), (0x2000, 0x2070), (0x3000, 0x3040), (0xFF00, 0xFF66)):
        chars.update(ch for ch in map(chr, range(low, high)) if unicodedata.category(ch)[0] in "PZ")
    return frozenset(chars)


_PUNCT = _punctuation()


def _hit_order(hit: KeywordHit) -> tuple[float, str, str]:
    return -hit.weight, hit.target, hit.term


class _Thresholds:
    """The decision settings as attributes (read many times per message)."""

    __slots__ = tuple(_DEFAULT_SETTINGS)

    def __init__(self, settings: Mapping[str, float]) -> None:
        for key in _DEFAULT_SETTINGS:
            setattr(self, key, settings[key])


class _Match(NamedTuple):
    """A term found in a text: the entry key and how often it occurred in the lead / the rest."""

    key: tuple[str, str, str]
    term: str  # as shown to staff (canonical term, or the matched text for patterns)
    lead: int  # occurrences in the first sentence (subject line)
    body: int  # occurrences elsewhere
    scale: float = 1.0  # compound_factor when the term was only found inside longer tokens


def _required_char_sets(rx: re.Pattern[str]) -> tuple[frozenset[str], ...] | None:
    """Sets of characters such that every match of ``rx`` contains at least one character of
    each set, smallest set first (None: unknown, e.g. case-insensitive patterns).

    Used as a cheap pre-filter: a pattern that misses all characters of one of its sets cannot
    match a text, so the (comparatively slow) regex search is skipped.  The smallest set indexes
    the pattern; the others are checked before searching.
    """
    if rx.flags & re.IGNORECASE:
        return None
    try:
        from re import _parser as sre_parse  # Python ≥ 3.11
        from re import _constants as c
    except ImportError:  # pragma: no cover
        return None

    def of_item(op, av) -> set[str] | None:
        if op is c.LITERAL:
            return {chr(av)}
        if op is c.IN:
            chars: set[str] = set()
            for iop, iav in av:
                if iop is c.LITERAL:
                    chars.add(chr(iav))
                elif iop is c.RANGE and iav[1] - iav[0] < 64:
                    chars.update(chr(x) for x in range(iav[0], iav[1] + 1))
                else:
                    return None
            return chars
        if op is c.SUBPATTERN:
            return of_seq(av[-1])
        if op is c.BRANCH:
            out: set[str] = set()
            for alt in av[1]:
                sub = of_seq(alt)
                if sub is None:
                    return None
                out |= sub
            return out
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            return of_seq(av[2])
        return None

    def of_seq(seq) -> set[str] | None:
        best = None
        for op, av in seq:
            got = of_item(op, av)
            if got is not None and (best is None or len(got) < len(best)):
                best = got
        return best

    try:
        parsed = sre_parse.parse(rx.pattern, rx.flags)
    except Exception:  # pragma: no cover - any parser surprise: no pre-filter
        return None
    sets = {frozenset(got) for op, av in parsed if (got := of_item(op, av))}
    return tuple(sorted(sets, key=lambda x: (len(x), sorted(x)))) or None


class Classifier:
    """Keyword classifier over a :class:`Lexicon`, with an optional learned :class:`TokenModel`
    as second opinion; thread-safe after construction (:meth:`set_model` swaps atomically)."""

    def __init__(self, lexicon: Lexicon, model: TokenModel | None = None):
        self.lexicon = lexicon
        self.settings = lexicon.settings
        self._weights = lexicon.weights()  # the lexicon's own weights (lead detection, learning)
        self._state: tuple[TokenModel | None, dict[tuple[str, str, str], float]] = (None, self._weights)
        self.set_model(model)
        by_term: dict[str, list[Entry]] = defaultdict(list)
        for entry in lexicon.entries:
            if entry.leaf != "patterns":
                by_term[entry.term].append(entry)
        # variant or canonical term → (canonical term, its entries): one dict lookup per candidate
        self._lookup_table: dict[str, tuple[str, tuple[Entry, ...]]] = {
            term: (term, tuple(entries)) for term, entries in by_term.items()
        }
        for variant, canon in lexicon.synonyms.items():
            if canon in by_term and variant not in self._lookup_table:
                self._lookup_table[variant] = (canon, tuple(by_term[canon]))
        self._by_term = by_term
        # (entry, regex, the character sets every match needs: the first indexes the pattern)
        required_sets = [
            (e, lexicon.patterns[e.key], _required_char_sets(lexicon.patterns[e.key]) or ())
            for e in lexicon.entries
            if e.leaf == "patterns"
        ]
        self._patterns = [(e, rx, required[1:]) for e, rx, required in required_sets]
        self._pattern_index: dict[str, list[int]] = defaultdict(list)
        self._pattern_always: list[int] = []  # patterns without a usable pre-filter
        for p_idx, (_, _, required) in enumerate(required_sets):
            if not required:
                self._pattern_always.append(p_idx)
            else:
                for ch in required[0]:
                    self._pattern_index[ch].append(p_idx)
        self._pattern_chars = frozenset(self._pattern_index)
        self._gated = {e.target for e in lexicon.entries if e.leaf == "requires"}
        # Every filing compares its text with the month's recent complaints of its category: their
        # words never change for this lexicon, so each is cut once, not once per filing.
        self.content_words = functools.lru_cache(maxsize=CONTENT_WORDS_REMEMBERED)(
            functools.partial(_content_words, self))
        # prefixes of every term that spans several tokens: a token that starts no term is skipped
        self._prefixes = {w[:k] for w in self._lookup_table for k in range(1, len(w) + 1)}
        self._max_span = 6  # a term is matched across at most this many jieba tokens
        s = self.settings
        self._window = int(s["negation_window"])
        self._mults = {
            "kind": (s["kind_lead_boost"], s["kind_body_factor"]),
            "severity": (s["severity_lead_boost"], 1.0),
            "flag": (s["severity_lead_boost"], 1.0),
        }
        self._default_mults = (s["lead_boost"], 1.0)
        self._s = _Thresholds(s)
        self._cat_targets = tuple((c, f"category:{c.value}") for c in Category)
        self._prop_targets = tuple((c, t) for c, t in self._cat_targets if c is not Category.OTHER)
        self._flag_targets = tuple((f, f"flag:{f.value}") for f in Flag)
        self._flag_target_set = frozenset(t for _, t in self._flag_targets)
        self._prop_categories = tuple(c for c, _ in self._prop_targets)
        self._prop_index = {t: i for i, (_, t) in enumerate(self._prop_targets)}
        self._category_targets = frozenset(t for _, t in self._cat_targets)
        words = set(self._lookup_table) | set(lexicon.dictionary)
        words |= lexicon.negation_before | lexicon.negation_after
        self._tokenizer = _new_tokenizer(sorted(words))
        self._segmenter = _Segmenter(self._tokenizer)
        # compound tokens (电梯门, 路灯杆): token → (canonical term, entries) of the longest lexicon
        # term that is its prefix or suffix, or None; filled lazily, one dict lookup per token
        self._compound_factor = float(s["compound_factor"])
        self._compound_min = max(2, int(s["compound_min_chars"]))
        self._compound_rest = max(1, int(s["compound_max_rest"]))
        self._compound_max_text = int(s["compound_max_chars"])
        self._compound_table: dict[str, tuple[str, tuple[Entry, ...]]] = {}
        for word, (canon, entries) in self._lookup_table.items():
            usable = tuple(e for e in entries if e.target.startswith(_COMPOUND_GROUPS) and e.leaf != "requires")
            if usable and len(word) >= self._compound_min:
                self._compound_table[word] = (canon, usable)
        self._compounds: dict[str, tuple[str, tuple[Entry, ...]] | None] = {}
        # token → what the scan needs to know about it (see _token_info); filled lazily
        self._tokens: dict[str, Any] = {}
        # occurrence multipliers (first sentence, rest) per target
        self._target_mults = {
            e.target: self._mults.get(e.target.split(":", 1)[0], self._default_mults) for e in lexicon.entries
        }

    @classmethod
    def load(cls, path: str | Path | None = None, *, model: TokenModel | str | Path | bool | None = None) -> Classifier:
        """Classifier over the lexicon at ``path`` (None → ``$LEXICON_PATH`` or the shipped file).

        ``model``: None/False → the lexicon alone; True → the default model (see
        :func:`services.classify.model.resolve_model_path`); a path or a :class:`TokenModel`.
        """
        if model is True:
            model = load_default_model()
        elif isinstance(model, (str, Path)):
            model = load_default_model(model)
        return cls(load_lexicon(path), model=model or None)

    def use_lexicon(self, lexicon: Lexicon) -> None:
        """Classify with ``lexicon`` from the next message on (an admin edited it): everything
        built from the lexicon is rebuilt aside, then swapped in at once; the model is kept."""
        fresh = type(self)(lexicon, model=self.model)
        self.__dict__ = fresh.__dict__

    @property
    def model(self) -> TokenModel | None:
        """The learned model in use, if any."""
        return self._state[0]

    def set_model(self, model: TokenModel | None) -> None:
        """Use ``model`` from the next message on (None: the lexicon alone)."""
        weights = lexicon_weights(self._weights, model.reliability) if model is not None else self._weights
        if model is not None:
            built_for = model.meta.get("lexicon", {}).get("sha")
            if built_for and built_for != lexicon_fingerprint(self.lexicon.path):
                log.warning("classifier model %s was trained with another version of the lexicon; "
                            "retrain it (python -m bot classify --learn)", model.path or "")
        self._state = (model, weights)

    # -- matching ------------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        """Normalise ``text`` and cut it into words."""
        return self._segmenter.lcut(normalize(text))

    def _lookup(self, word: str) -> str | None:
        found = self._lookup_table.get(word)
        return found[0] if found else None

    def _compound(self, tok: str) -> tuple[str, tuple[Entry, ...]] | None:
        """The lexicon term a compound token starts or ends with, else None.

        Only for tokens that are not themselves terms (the caller checks), of at least
        ``compound_min_chars`` + 1 characters, not pure ASCII.  The longest contained term wins;
        on a tie the prefix (what the thing belongs to usually names the category).  The rest of
        the token must not contain one of the lexicon's negation ``blockers``.
        """
        # e.g. 电梯门 (lift door) → 电梯 (lift); 无噪音 (no noise) is not 噪音 (noise)
        cache = self._compounds
        try:
            return cache[tok]
        except KeyError:
            pass
        found = None
        n = len(tok)
        minimum = self._compound_min
        blockers = self.lexicon.compound_blockers
        if n > minimum and not tok.isascii():
            table = self._compound_table
            for k in range(n - 1, max(minimum, n - self._compound_rest) - 1, -1):
                hit = table.get(tok[:k])
                if hit is not None and blockers.isdisjoint(tok[k:]):
                    found = hit
                    break
                hit = table.get(tok[n - k :])
                if hit is not None and blockers.isdisjoint(tok[: n - k]):
                    found = hit
                    break
        if len(cache) >= _COMPOUND_CACHE_MAX:
            cache.clear()
        cache[tok] = found
        return found

    def _negated(self, tokens: list[str], start: int, end: int) -> bool:
        window = self._window
        neg_before, neg_after = self.lexicon.negation_before, self.lexicon.negation_after
        # a negation word shortly before the term, in the same clause
        for j in range(start - 1, max(-1, start - 1 - window), -1):
            tok = tokens[j]
            if tok in _PUNCT:
                break
            if tok in neg_before:
                return True
        # a resolution word shortly after it ("修好了"), itself not negated ("没修好")
        for j in range(end, min(len(tokens), end + window + 1)):
            tok = tokens[j]
            if tok in _PUNCT:
                break
            if tok in neg_after:
                prev = tokens[j - 1] if j - 1 >= end else ""
                prev2 = tokens[j - 2] if j - 2 >= end else ""
                if prev not in neg_before and prev2 not in neg_before:
                    return True
        return False

    def _match(self, text: str) -> list[_Match]:
        """Find the lexicon's terms in ``text`` (see :meth:`_scan`)."""
        return self._scan(text)[0]

    def _token_info(self, tok: str) -> Any:
        """What the scan needs to know about a token, computed once per distinct token:
        ``_NOTHING`` when it starts no term and hides none, else ``(starts a term, the term it
        is, the term it hides as a compound)``."""
        info = self._tokens.get(tok)
        if info is not None:
            return info
        starts = tok in self._prefixes
        single = self._lookup_table.get(tok) if starts else None
        hidden = None
        if single is None and len(tok) > self._compound_min:
            hidden = self._compound(tok)
        info = (starts, single, hidden) if starts or hidden is not None else _NOTHING
        if len(self._tokens) >= _COMPOUND_CACHE_MAX:
            self._tokens.clear()
        self._tokens[tok] = info
        return info

    def _scan(self, text: str) -> tuple[list[_Match], list[str]]:
        """Find the lexicon's terms in ``text``: one normalisation, one segmentation, one scan.
        Returns the matches and the tokens (the learned model reads the same words).

        The *lead* is the first sentence (the subject line of a web message), except that up to
        two short opening sentences without category or kind evidence are skipped: greetings and
        self-introductions in chat messages.
        """
        # skipped openers: "你好。", "在吗？", "我是5栋业主。"
        norm = normalize(text)
        tokens = self._segmenter.lcut(norm)
        n = len(tokens)
        lookup, prefixes = self._lookup_table.get, self._prefixes
        max_span = self._max_span
        # compound tokens (电梯门 → 电梯): only in short texts
        use_compounds = self._compound_factor > 0 and (
            self._compound_max_text <= 0 or len(norm) <= self._compound_max_text
        )
        cache_get, token_info = self._tokens.get, self._token_info
        # (key, shown term, char offset, found inside a compound token)
        found_hits: list[tuple[tuple[str, str, str], str, int, bool]] = []
        pos = 0
        i = 0
        while i < n:
            tok = tokens[i]
            info = cache_get(tok)
            if info is None:
                info = token_info(tok)
            if info is _NOTHING:
                pos += len(tok)
                i += 1
                continue
            starts, found, hidden = info
            width = 1
            partial = False
            if starts:
                joined = tok
                stop = i + max_span
                for j in range(i + 1, stop if stop < n else n):
                    joined += tokens[j]
                    if joined not in prefixes:
                        break
                    hit = lookup(joined)
                    if hit is not None:
                        found, width = hit, j - i + 1
            if found is None:
                if hidden is None or not use_compounds:
                    pos += len(tok)
                    i += 1
                    continue
                found, partial = hidden, True
            canon, entries = found
            negated = None
            for entry in entries:
                if entry.negatable:
                    if negated is None:
                        negated = self._negated(tokens, i, i + width)
                    if negated:
                        continue
                found_hits.append((entry.key, canon, pos, partial))
            for j in range(i, i + width):
                pos += len(tokens[j])
            i += width
        if self._patterns:
            # only the patterns one of whose required characters occurs in the text (index by
            # character: a short message touches a few patterns, not all of them)
            index = self._pattern_index
            present = set(norm)
            todo = set(self._pattern_always)
            for ch in self._pattern_chars.intersection(present):
                todo.update(index[ch])
            patterns = self._patterns
            for p_idx in sorted(todo):
                entry, rx, also_required = patterns[p_idx]
                for chars in also_required:
                    if chars.isdisjoint(present):
                        break  # a character every match needs is missing
                else:
                    for m in rx.finditer(norm):
                        found_hits.append((entry.key, m.group(0), m.start(), False))
        if not found_hits:
            return [], tokens

        factor = self._compound_factor
        if _SENTENCE_RX.search(norm, 1) is None:  # one sentence (most chat messages): all of it is the lead
            counts: dict[tuple[str, str, str], list[Any]] = {}
            for key, term, _, partial in found_hits:
                entry = counts.get(key)
                if entry is None:
                    counts[key] = [term, 1, partial]
                else:
                    entry[1] += 1
                    entry[2] = entry[2] and partial
            return [_tuple_new(_Match, (key, term, n_lead, 0, factor if partial else 1.0))
                    for key, (term, n_lead, partial) in counts.items()], tokens

        # sentence boundaries: (start, end) of each terminator run ("。", "？！" …)
        runs = [(m.start(), m.end()) for m in _SENTENCE_RX.finditer(norm) if m.start() > 0]
        lead_start, lead_end = 0, runs[0][0] if runs else len(norm) + 1
        if runs:
            # skip short opening sentences without category/kind evidence ("你好。", "我是5栋业主。")
            weights = self._weights
            first = min(
                (p for key, _, p, _ in found_hits if key[0].startswith(_LEAD_TARGETS) and weights.get(key, 0) >= 1.0),
                default=0,
            )
            k = 0
            while (
                k < min(len(runs), _MAX_SKIPPED_OPENERS)
                and first >= runs[k][1]
                and runs[k][0] - lead_start <= _OPENER_MAX_CHARS
            ):
                lead_start = runs[k][1]
                k += 1
            lead_end = runs[k][0] if k < len(runs) else len(norm) + 1
        lead: dict[tuple[str, str, str], int] = {}
        body: dict[tuple[str, str, str], int] = {}
        shown: dict[tuple[str, str, str], str] = {}
        direct: set[tuple[str, str, str]] = set()  # keys found at least once as a whole token
        for key, term, p, partial in found_hits:
            counts = lead if lead_start <= p < lead_end else body
            counts[key] = counts.get(key, 0) + 1
            if key not in shown:
                shown[key] = term
            if not partial:
                direct.add(key)
        return [
            _Match(key, term, lead.get(key, 0), body.get(key, 0), 1.0 if key in direct else factor)
            for key, term in shown.items()
        ], tokens

    def _factor(self, m: _Match) -> float:
        """Occurrence multiplier: first sentence boosted, repeats add a capped share."""
        lead_mult, body_mult = self._target_mults[m.key[0]]
        if m.lead:
            first = lead_mult
        elif m.body:
            first = body_mult
        else:
            return 0.0
        rest = lead_mult * m.lead + body_mult * m.body - first
        s = self.settings
        return first + min(s["repeat_cap"] * first, s["repeat_factor"] * rest)

    # -- decision ------------------------------------------------------------------------------

    def _decide(self, matches: list[_Match], weights: Mapping[tuple[str, str, str], float], *,
                model: TokenModel | None = None, tokens: list[str] | None = None) -> Classification:
        s = self._s
        scores: dict[str, float] = {}
        requires: set[str] = set()
        hits: list[KeywordHit] = []
        flag_hits: list[KeywordHit] = []
        symptoms = 0.0  # a stated problem is complaint evidence
        mults, categories, flag_targets = self._target_mults, self._category_targets, self._flag_target_set
        cap, share = s.repeat_cap, s.repeat_factor
        for key, term, lead, body, scale in matches:
            w = weights.get(key, 0.0)
            if w == 0:
                continue
            target, leaf, _ = key
            if leaf == "requires":
                requires.add(target)
                continue
            # occurrences: the first counts fully (boosted in the lead), repeats add a capped share
            lead_mult, body_mult = mults[target]
            first = lead_mult if lead else body_mult
            rest = lead_mult * lead + body_mult * body - first
            eff = round(w * (first + min(cap * first, share * rest)) * scale, 2)
            scores[target] = scores.get(target, 0.0) + eff
            if leaf == "symptoms" and target in categories:
                symptoms += eff
            (flag_hits if target in flag_targets else hits).append(_tuple_new(KeywordHit, (term, eff, target, LEXICON)))

        # category, by the lexicon: the best and second property categories (ties: the earlier
        # category), 'other', and the property context
        props = self._prop_index
        best_i = second_i = -1
        prop = second = 0.0
        for target, v in scores.items():
            i = props.get(target)
            if i is None or v <= 0:
                continue
            if best_i < 0 or v > prop or (v == prop and i < best_i):
                if best_i >= 0:
                    second_i, second = best_i, prop
                best_i, prop = i, v
            elif second_i < 0 or v > second or (v == second and i < second_i):
                second_i, second = i, v
        prop_categories = self._prop_categories
        best_prop = prop_categories[best_i] if best_i >= 0 else prop_categories[0]
        second_prop = prop_categories[second_i] if second_i >= 0 else None
        other = scores.get(_OTHER_TARGET, 0.0)
        context = min(scores.get("context:property", 0.0), s.context_cap) * s.context_weight
        margin = s.other_margin
        other_level = other / margin if margin > 0 else other
        if prop <= 0 and other <= 0:
            category, confidence = Category.OTHER, s.no_evidence_confidence
        elif prop + context < s.min_property_score or other >= (prop + context) * margin:
            category = Category.OTHER
            confidence = (other + 1.0) / (other + prop + context + 2.0)
        else:
            category = best_prop
            runner = max(second, other)  # the strongest other category
            confidence = (prop + context) / (prop + context + runner + 1.5)
        confidence = max(0.0, min(1.0, confidence))
        # how far the lexicon's evidence is from changing its decision, and its second choice;
        # a default 'other' (no 'other' terms) has no strength of its own
        if category is Category.OTHER:
            strength = other_level - (prop + context if prop > 0 else 0.0)
            runner_up = best_prop if prop > 0 else None
        else:
            floor = max(other_level, s.min_property_score)
            strength = prop + context - max(floor, second + context if second > 0 else 0.0)
            runner_up = second_prop if second > 0 and second + context >= floor else Category.OTHER
        source = LEXICON if prop > 0 or other > 0 else NONE
        uncertain = source is LEXICON and strength < s.lexicon_uncertain_margin and runner_up is not None

        # the learned model decides when the lexicon's evidence is weak
        if model is not None and tokens and strength < s.lexicon_strong_margin:
            vote = model.vote(tokens)
            if vote is not None:
                target = f"category:{vote.category.value}"
                lexicon_terms = any(h.target == target and h.weight > 0 for h in hits)
                agree = vote.category is category
                if agree or source is NONE:  # the lexicon had nothing to say: the model's second choice
                    runner_up, category = vote.runner_up, vote.category
                else:  # the lexicon's (weak) choice is the alternative
                    runner_up, category = category, vote.category
                if not agree or not lexicon_terms:
                    source = MODEL
                if source is MODEL:
                    confidence = vote.probability
                    hits.extend(KeywordHit(t, w, target, MODEL) for t, w in vote.terms())
                uncertain = vote.margin < s.model_uncertain_margin and runner_up is not None

        # flags
        flags: frozenset[Flag] = _NO_FLAGS
        if flag_hits:
            fired_flags = set()
            for flag, target in self._flag_targets:
                if scores.get(target, 0.0) >= s.flag_threshold and (target not in self._gated or target in requires):
                    fired_flags.add(flag)
            flags = frozenset(fired_flags)

        # kind
        # a grievance (a stated problem, a repeated or dangerous one) is complaint evidence: a
        # question asked with one is still a complaint
        urgent = scores.get("severity:urgent", 0.0)
        important = scores.get("severity:important", 0.0)
        inquiry = scores.get(_INQUIRY, 0.0)
        suggestion = scores.get(_SUGGESTION, 0.0)
        kind = Kind.COMPLAINT
        if inquiry or suggestion or s.kind_threshold <= 0:
            complaint = (scores.get(_COMPLAINT, 0.0) + symptoms * s.kind_symptom_factor
                         + s.kind_severity_factor * (urgent + important))
            best_kind, best_score = (Kind.SUGGESTION, suggestion) if suggestion > inquiry else (Kind.INQUIRY, inquiry)
            if best_score >= s.kind_threshold and best_score > complaint + s.kind_margin:
                kind = best_kind

        # severity
        if urgent >= s.severity_threshold or flags & _URGENT_FLAGS:
            severity = Severity.URGENT
        elif important >= s.severity_threshold and kind is Kind.COMPLAINT:
            severity = Severity.IMPORTANT
        else:
            severity = Severity.GENERAL

        # only show flag hits when the flag actually fired (gated flags may not)
        if flags:
            fired = {f"flag:{f.value}" for f in flags}
            hits.extend(h for h in flag_hits if h.target in fired)
        if len(hits) > 1:
            hits.sort(key=_hit_order)
        return Classification(
            category=category,
            kind=kind,
            severity=severity,
            confidence=round(confidence, 3),
            keywords=tuple(hits),
            flags=flags,
            runner_up=runner_up if runner_up is not category else None,
            uncertain=uncertain,
            source=source,
            labels=self.lexicon.labels,
        )

    def classify(self, text: str) -> Classification:
        """Classify one resident message."""
        model, weights = self._state
        matches, tokens = self._scan(text or "")
        return self._decide(matches, weights, model=model, tokens=tokens)


_default_lock = threading.Lock()
_default: Classifier | None = None


def get_classifier() -> Classifier:
    """Process-wide default classifier: the lexicon (``$LEXICON_PATH``) and the learned model
    (``$CLASSIFIER_MODEL_PATH``, see :func:`services.classify.model.resolve_model_path`), loaded once."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Classifier.load(model=True)
    return _default


def _reset_default_classifier() -> None:
    """Forget the cached default classifier (tests, or after an admin edited the lexicon)."""
    global _default
    with _default_lock:
        _default = None


def content_words(classifier: Classifier, text: str) -> frozenset[str]:
    """Words that carry the matter (for "same matter" checks): two or more characters, no stop
    words, no numbers or punctuation. Remembered per classifier (see ``Classifier.content_words``)."""
    return classifier.content_words(text)


def _content_words(classifier: Classifier, text: str) -> frozenset[str]:
    stop = classifier.lexicon.stopwords
    return frozenset(w for w in classifier.tokenize(text)
                     if len(w) >= 2 and w not in stop and not any(ch.isdigit() or ch in _PUNCT for ch in w))
