"""A word n-gram language model with interpolated Kneser-Ney smoothing, for CTC beam search.

The usual tool, KenLM (`lmplz` + its Python module), has no wheel for this platform, so the estimate is made here, in
the same form KenLM's estimator uses (Chen & Goodman's interpolated Kneser-Ney with one discount per order):

    P(w | h) = max(c(h w) - D, 0) / c(h) + D * N1+(h .) / c(h) * P(w | h[1:])

with raw counts at the highest order and continuation counts (the number of distinct words seen before `h w`) below
it, except for n-grams starting with `<s>`, which nothing can precede and keep their raw counts (as in KenLM). The
unigram level is interpolated with the uniform distribution over the vocabulary, so every in-vocabulary word and
`</s>` has a non-zero probability after any context, and each conditional distribution sums to one.
"""

import math
from collections import Counter, defaultdict

BOS, EOS = "<s>", "</s>"


class KneserNeyLM:
    """Word n-gram model estimated from `sentences` (lists of words); `log_prob(context, word)` in natural log.

    Arguments
    ---------
    sentences : iterable of list of str
        Training sentences, already split into words.
    order : int
        The n of the n-gram (2 = bigram, 3 = trigram, ...).
    discount : float
        The Kneser-Ney discount D in (0, 1), the same at every order.
    """

    def __init__(self, sentences, order=3, discount=0.75):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.order, self.discount = order, discount
        raw = Counter()  # every n-gram of every order, as tuples
        words = set()
        for sentence in sentences:
            padded = [BOS] * (order - 1) + list(sentence) + [EOS]
            words.update(sentence)
            for end in range(order - 1, len(padded)):
                for n in range(1, order + 1):
                    raw[tuple(padded[end - n + 1:end + 1])] += 1
        if not words:
            raise ValueError("no words to estimate a language model from")
        self.vocab = sorted(words) + [EOS]
        # Continuation counts: distinct left neighbours of each lower-order n-gram.
        left = defaultdict(set)
        for gram in raw:
            if len(gram) > 1:
                left[gram[1:]].add(gram[0])
        self.counts = {}
        for gram, count in raw.items():
            if len(gram) == order or gram[0] == BOS:
                self.counts[gram] = count
            else:
                self.counts[gram] = len(left[gram])
        self.context_total = Counter()  # sum of counts of h w over w
        self.context_types = Counter()  # N1+(h .)
        for gram, count in self.counts.items():
            self.context_total[gram[:-1]] += count
            self.context_types[gram[:-1]] += 1
        self._cache = {}

    def prob(self, context, word):
        """P(word | the last order-1 words of context); `context` may be shorter (it is then `<s>`-padded)."""
        context = tuple(context)[-(self.order - 1):] if self.order > 1 else ()
        context = (BOS,) * (self.order - 1 - len(context)) + context
        key = (context, word)
        if key not in self._cache:
            self._cache[key] = self._interpolated(context, word)
        return self._cache[key]

    def log_prob(self, context, word):
        """Natural log of `prob`."""
        return math.log(self.prob(context, word))

    def _interpolated(self, context, word):
        # The uniform floor, then each order from unigrams up to the full context.
        p = 1.0 / len(self.vocab)
        for n in range(0, len(context) + 1):
            history = context[len(context) - n:]
            total = self.context_total.get(history, 0)
            if total == 0:  # unseen history: keep the lower-order estimate
                continue
            count = self.counts.get(history + (word,), 0)
            backoff = self.discount * self.context_types[history] / total
            p = max(count - self.discount, 0.0) / total + backoff * p
        return p
