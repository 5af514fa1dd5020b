"""The text of a simulated post, and the names and links each platform shows for it.

Deterministic per post: each text is drawn from its own bytes, a hash of the platform and the post id, so it
is the same in every native payload (the simulator's and the fake platform server's) and no random state is shared with the draws that decide counters, campaigns or journeys: adding text changed no
ground truth. The text has the post's ``text_length`` (at most), opens with its hook and is about its topic.
"""

from __future__ import annotations

import functools
import hashlib
import re

_OPENERS = {
    "question": ("Ever wondered why {topic} feels harder than it should?", "What would change if {topic} took half the time?"),
    "statistic": ("73% of teams say {topic} is their biggest blind spot.", "We measured {topic} across 1,200 accounts."),
    "story": ("Last spring our team rebuilt {topic} from scratch.", "Two years ago we almost gave up on {topic}."),
    "bold_claim": ("Most advice about {topic} is wrong.", "{Topic} is not a cost centre. It is the product."),
    "how_to": ("How to get {topic} right in five steps.", "A practical guide to {topic}, from first draft to results."),
    "list": ("Seven lessons about {topic} we learned the hard way:", "Three {topic} habits worth stealing:"),
    "none": ("Notes on {topic} from this week.", "An update on {topic}."),
}
_TOPICS = {
    "product": ("our new release", "the product roadmap", "onboarding"),
    "industry_news": ("this week's market news", "the new platform rules", "the state of the industry"),
    "thought_leadership": ("long-term brand building", "measuring what matters", "team culture at scale"),
    "culture": ("remote collaboration", "how our team works", "hiring for curiosity"),
    "tutorial": ("campaign reporting", "audience research", "A/B testing your posts"),
    "promotion": ("our spring offer", "the launch event", "early access"),
}
_SENTENCES = (
    "We tested it for six weeks before sharing anything.",
    "The results surprised even the sceptics on the team.",
    "Small changes compound faster than big launches.",
    "Here is what the data said, and what it did not.",
    "Start with the question your customer is asking.",
    "Nobody gets this right on the first try.",
    "The boring parts are where the gains hide.",
    "Write it down, measure it, then decide.",
    "Our customers told us before the dashboards did.",
    "Consistency beat creativity in every test we ran.",
    "Share what you learn; it comes back twice.",
    "The link in the comments has the full write-up.",
)


_SEPARATORS = ("\n\n", " ", "  ")  # paragraphs as people write them: the excerpt has to collapse them
# one byte of the post's digest picks what follows the opener next: a separator and a sentence (256 = 21 x 12 + 4:
# the first four sentences come up 22 times in 256 rather than 21, which no reader of a simulated post can tell)
_PIECES = tuple(_SEPARATORS[b // len(_SENTENCES) % len(_SEPARATORS)] + _SENTENCES[b % len(_SENTENCES)] for b in range(256))


def _digest(platform: str, post_id: str, n: int) -> bytes:
    """``n`` pseudo-random bytes of the post's own: an extendable hash of the platform and the post id. A hash, not a
    seeded numpy generator, because the simulator writes the text of every tracked post every day (400,000 at
    50,000 posts a day): making a generator per post took most of a day's simulation (issue 16)."""
    return hashlib.shake_256(f"cycle-post-text|{platform}|{post_id}".encode()).digest(n)


@functools.lru_cache(maxsize=1 << 16)  # a post is polled on several days: its text is made once
def post_text(platform: str, post_id: str, hook_type: str | None, topic: str | None, length: int) -> str:
    """The post's text: its hook's opener about its topic, then sentences, cut at a word to ``length``."""
    subjects = _TOPICS.get(topic or "", ("our work",))
    openers = _OPENERS.get(hook_type or "none", _OPENERS["none"])
    n = max(length, 1) // 30 + 2  # enough sentences for the length (each is at least 30 characters with its separator)
    digest = _digest(platform, post_id, n + 2)
    subject = subjects[digest[0] % len(subjects)]
    opener = openers[digest[1] % len(openers)].format(topic=subject, Topic=subject[:1].upper() + subject[1:])
    text = opener + "".join([_PIECES[b] for b in digest[2:]])
    if len(text) > length:
        cut = text[: max(length, 1)]
        text = cut.rsplit(" ", 1)[0] if " " in cut.strip() else cut
    return text.strip()


_FIRST_SENTENCE = re.compile(r"^(.+?[.!?:])\s+(\S.*)$", re.DOTALL)
REDDIT_TITLE_CHARS = 300  # Reddit's limit: a title is one line of at most 300 characters


def reddit_submission(text: str, is_self: bool) -> tuple[str, str]:
    """A Reddit submission's ``title`` and ``selftext`` for a post whose text is ``text``: a self post opens
    with its title (the first sentence, on one line) and keeps the rest, paragraphs and all, as its body; a link
    or media post is only a title (its text on one line, cut to the limit) and an empty body, as Reddit serves
    it. No random draw: the same text gives the same submission in the simulator and the fake platform server."""
    if is_self:
        split = _FIRST_SENTENCE.match(text)
        if split:
            return " ".join(split.group(1).split())[:REDDIT_TITLE_CHARS], split.group(2)
    return " ".join(text.split())[:REDDIT_TITLE_CHARS], ""


def reddit_permalink(post_id: str, title: str, subreddit: str = "cycle") -> str:
    """Reddit's ``permalink``: the path of the comments page, with a slug of the title."""
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50].rstrip("_")
    return f"/r/{subreddit}/comments/{post_id.removeprefix('t3_')}/{slug}/"
