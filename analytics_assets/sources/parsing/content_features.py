"""A post's hook and topic read from its text: small deterministic rules, no model.

The platforms report counters, not what a post is like; Cycle's own posts carry the hook and topic they were
written with (``cycle.*`` fields), the platforms' payloads only the text. These rules recover both from
the text so the engagement model sees content in live mode too:

- **hook**: the opening sentence's device. A question, a statistic (a percentage or a measured count), a
  story (a time in the past, "we/our" narrating), a how-to (``how to``, "a guide to", "step by step"), a list
  (a count of plural things announced with a colon, "N tips/lessons/ways"), a bold claim (an absolute
  verdict: "is wrong", "is not X. It is Y", "stop ..."). An ordinary declarative opening with none of these
  is ``none`` (a post without a hook is a fact the rules can state); an opening the rules cannot read (no
  sentence, two devices of equal weight) is null, never a guess.
- **topic**: keyword phrases, weighted (a multi-word phrase outweighs a single word), counted in the
  opening sentence, where a post names its subject, and, at half weight, in the rest. The best topic must
  lead the next by a clear margin, else null.

Measured on the simulator's texts, whose hook and topic are known (tests/test_content_features.py pins
the floors; README, Real platforms). The simulator's subjects are few and fixed, so its accuracy is an upper bound
for real posts: a topic the keywords do not know comes out null, not wrong, by design.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

HOOK_TYPES = ("question", "statistic", "story", "bold_claim", "how_to", "list", "none")
TOPICS = ("product", "industry_news", "thought_leadership", "culture", "tutorial", "promotion")

_NUMBER_WORDS = r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|\d+)"
_PLURALS = (r"(?:lessons|tips|ways|habits|mistakes|reasons|things|steps|rules|ideas|tools|questions|myths|"
            r"takeaways|signs|secrets|tricks|examples|principles|truths|lessons learned)")

# (hook, weight, pattern on the opening sentence, lower-cased). The heaviest match wins; a tie between two
# different hooks is unsure.
_HOOK_RULES: tuple[tuple[str, int, re.Pattern[str]], ...] = tuple(
    (hook, weight, re.compile(pattern))
    for hook, weight, pattern in (
        ("question", 3, r"\?\s*$"),
        ("question", 2, r"^(?:ever wondered|what if|why do|why does|why is|have you|did you know|what would|how many|"
                        r"what's the|what is the|is it|are you|do you|can you)\b"),
        ("how_to", 3, r"^how to\b|\bhow to (?:get|build|make|write|run|use|grow|start|fix|measure)\b"),
        ("how_to", 3, r"\b(?:a|the|our) (?:practical |quick |complete |simple |step-by-step )?(?:guide|playbook|walkthrough) (?:to|for)\b"),
        ("how_to", 2, r"\bstep[- ]by[- ]step\b|\bin (?:" + _NUMBER_WORDS + r") (?:simple |easy )?steps\b"),
        ("list", 3, r"^(?:" + _NUMBER_WORDS + r")\s+(?:[a-z/-]+\s+){0,3}" + _PLURALS + r"\b"),
        ("list", 2, r"^(?:" + _NUMBER_WORDS + r")\b.*:\s*$"),
        ("statistic", 3, r"\d+(?:[.,]\d+)?\s?%|\bpercent\b"),
        ("statistic", 3, r"\b(?:we|i) (?:measured|analy[sz]ed|surveyed|counted|tracked|studied)\b"),
        ("statistic", 2, r"\b\d{1,3}(?:,\d{3})+\b|\b\d+(?:\.\d+)?x\b|\b\d+ (?:out of|in) \d+\b"),
        ("story", 3, r"^(?:last|this past) (?:spring|summer|autumn|fall|winter|year|month|week|quarter)\b"),
        ("story", 3, r"^(?:" + _NUMBER_WORDS + r"|a few|a couple of) (?:years|months|weeks|days) ago\b"),
        ("story", 2, r"^(?:when (?:i|we) (?:started|joined|first)|once upon|i remember|back in (?:19|20)\d\d)\b"),
        ("bold_claim", 3, r"\b(?:is|are) (?:wrong|dead|overrated|a myth|broken|a lie)\b"),
        ("bold_claim", 3, r"\bis not (?:a |an |the )?[a-z ]+\.\s*it is\b|\bisn't (?:a |an |the )?[a-z ]+\.\s*it's\b"),
        ("bold_claim", 2, r"^[^.]* (?:is|are) not (?:a |an |the )?[a-z ]+\.$"),
        ("bold_claim", 2, r"^(?:most|all|every|no one|nobody) (?:advice|people|teams|marketers|brands|experts)\b.*\b(?:wrong|never|won't|don't|can't)\b"),
        ("bold_claim", 2, r"^(?:stop|forget|unpopular opinion|hot take|the truth is)\b"),
    )
)

# (topic, phrase): a phrase of n words weighs n (at least 1.5 for the one-word phrases below that are
# specific enough). Matched on word boundaries, lower-cased.
_TOPIC_PHRASES: dict[str, tuple[str, ...]] = {
    "product": ("new release", "release", "roadmap", "product roadmap", "onboarding", "new feature", "feature",
                "integration", "changelog", "beta", "version", "our product", "shipped", "dashboard"),
    "industry_news": ("market news", "news", "industry", "state of the industry", "platform rules", "new rules",
                      "regulation", "policy change", "announced", "acquisition", "market", "this week's"),
    "thought_leadership": ("brand building", "long-term", "measuring what matters", "what matters", "at scale",
                           "leadership", "strategy", "the future of", "first principles", "mindset"),
    "culture": ("remote collaboration", "remote", "our team works", "how our team", "hiring", "culture",
                "curiosity", "collaboration", "colleagues", "we're hiring", "our people", "team offsite"),
    "tutorial": ("campaign reporting", "reporting", "audience research", "research", "a/b testing", "a/b test",
                 "tutorial", "walkthrough", "template", "checklist", "testing your"),
    "promotion": ("spring offer", "offer", "launch event", "event", "early access", "discount", "sale",
                  "sign up", "register", "webinar", "free trial", "limited time", "promo code", "tickets"),
}
# single words too generic to decide a topic alone weigh 1; the rest weigh their word count, at least 1.5
_WEAK = {"release", "feature", "version", "news", "market", "industry", "strategy", "research", "reporting", "event",
         "offer", "remote", "culture", "dashboard", "register", "sale", "beta", "leadership"}
# phrases that belong to a hook's wording, not to a subject: never counted for a topic
_HOOK_WORDS = re.compile(r"\bhow to\b|\b(?:practical |quick |complete )?guide to\b|\bin \w+ steps\b|\bstep[- ]by[- ]step\b")

_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n+")
_TOPIC_MARGIN = 1.0


@dataclass(frozen=True)
class ContentGuess:
    hook_type: str | None
    topic: str | None


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w/])" + re.escape(phrase) + r"(?![\w/])")


_TOPIC_PATTERNS = tuple(
    (topic, _phrase_pattern(phrase), 1.0 if phrase in _WEAK else max(1.5, float(len(phrase.split()))))
    for topic, phrases in _TOPIC_PHRASES.items() for phrase in phrases
)


def opening_sentence(text: str) -> str | None:
    """The first sentence (up to its ``.``, ``!``, ``?`` or ``:``, or the first line), whitespace collapsed."""
    stripped = text.strip()
    if not stripped:
        return None
    first = _SENTENCE_END.split(stripped, maxsplit=1)[0]
    return " ".join(first.split()) or None


def classify_hook(text: str | None) -> str | None:
    """The opening sentence's hook, ``none`` for a plain declarative opening, None where unsure."""
    if not isinstance(text, str):
        return None
    first = opening_sentence(text)
    if first is None:
        return None
    lowered = first.lower()
    # an opening and the sentence after it: "X is not a cost centre. It is the product." is one device
    two = " ".join(text.split()).lower()[: len(first) + 60]
    best: dict[str, int] = {}
    for hook, weight, pattern in _HOOK_RULES:
        if pattern.search(lowered) or (hook == "bold_claim" and pattern.search(two)):
            best[hook] = max(best.get(hook, 0), weight)
    if not best:
        # a complete ordinary sentence of a few words: it opens without a hook. Anything else (a fragment, a
        # hashtag run, a link, an opening cut short) the rules cannot read.
        words = re.findall(r"[a-z']+", lowered)
        return "none" if len(words) >= 3 and first.endswith(".") else None
    ranked = sorted(best.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def _topic_scores(part: str, weight: float, scores: dict[str, float]) -> None:
    part = _HOOK_WORDS.sub(" ", part.lower())
    for topic, pattern, phrase_weight in _TOPIC_PATTERNS:
        if pattern.search(part):
            scores[topic] = scores.get(topic, 0.0) + weight * phrase_weight


def classify_topic(text: str | None) -> str | None:
    """The topic whose phrases weigh most (the opening sentence in full, the rest at half), if it leads the
    next by ``_TOPIC_MARGIN``; None where no topic phrase appears or two topics are close."""
    if not isinstance(text, str):
        return None
    collapsed = " ".join(text.split())
    first = opening_sentence(collapsed)
    if first is None:
        return None
    scores: dict[str, float] = {}
    _topic_scores(first, 1.0, scores)
    _topic_scores(collapsed[len(first):], 0.5, scores)
    if not scores:
        return None
    ranked = sorted(scores.values(), reverse=True)
    best = max(scores, key=scores.get)
    if ranked[0] < 1.0 or (len(ranked) > 1 and ranked[0] - ranked[1] < _TOPIC_MARGIN):
        return None
    return best


def classify(text: str | None) -> ContentGuess:
    return ContentGuess(classify_hook(text), classify_topic(text))


def content_features(texts: Iterable[object]) -> pd.DataFrame:
    """``text_length``, ``hook_type`` and ``topic`` of each text (None where there is no text)."""
    rows = []
    for text in texts:
        if isinstance(text, str) and text.strip():
            guess = classify(text)
            rows.append((len(text), guess.hook_type, guess.topic))
        else:
            rows.append((None, None, None))
    frame = pd.DataFrame(rows, columns=["text_length", "hook_type", "topic"])
    frame["text_length"] = frame["text_length"].astype("Int64")
    for col in ("hook_type", "topic"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame
