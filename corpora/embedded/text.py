"""Real English text for the embedded corpus: words, sentences, commands, intents.

Sentences come from a small grammar over a few hundred content words. A core
set of words is drawn far more often than the rest, so that word-level recipes
(pretext selection groups segments by word) find enough repetitions of each.
"""

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

# The 35 words of Speech Commands v2.
SPEECH_COMMANDS = [
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on",
    "one", "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up",
    "visual", "wow", "yes", "zero",
]

CORE_NOUNS = ["house", "water", "garden", "river", "window", "letter", "morning", "market",
              "mother", "father", "doctor", "teacher", "table", "village", "forest", "mountain"]
CORE_VERBS = ["found", "opened", "carried", "painted", "watched", "followed", "cleaned", "visited"]
CORE_ADJECTIVES = ["little", "old", "bright", "quiet", "heavy", "golden"]

NOUNS = CORE_NOUNS + """
apple basket bottle bridge brother candle castle chair cloud coat corner cottage cup
daughter desk door dream engine farmer feather field finger flower friend glass hammer
harbor hat hill horse island jacket kettle key kitchen ladder lamp leaf library lion
machine meadow mirror monkey needle ocean orange paper pencil picture pillow pocket
rabbit road rock roof sailor school shadow ship shoe shop sister soldier spoon station
stone story street student sugar summer sun tower train tree valley wagon wall wheel
winter wolf woman worker blanket bucket button camera carpet cheese circle
""".split()

VERBS = CORE_VERBS + """
answered borrowed brought built called changed closed covered crossed dropped filled
gathered guarded heard helped hid joined kept lifted liked loved moved noticed packed
pulled pushed reached remembered repaired saw showed sold touched turned used wanted
washed wrapped
""".split()

ADJECTIVES = CORE_ADJECTIVES + """
angry brave broken busy calm careful clean cold dark deep distant dusty early empty
famous fresh gentle green happy hidden huge large narrow new pale proud rough round
silver simple small soft strange strong sweet tall warm white wide wild wooden young
""".split()

ADVERBS = "slowly quickly carefully quietly gladly early again together often soon".split()
PREPOSITIONS = ["near", "behind", "under", "beside", "across", "inside", "above", "past"]
NAMES = ["john", "mary", "thomas", "anna", "william", "grace", "henry", "clara"]

CORE_WORDS = CORE_NOUNS + CORE_VERBS + CORE_ADJECTIVES
CONTENT_WORDS = sorted(set(NOUNS + VERBS + ADJECTIVES + ADVERBS + NAMES))

# Fluent Speech Commands style intents: (action, object, location) and phrasings.
INTENTS = [
    ("activate", "lights", "kitchen", ["turn on the lights in the kitchen", "kitchen lights on"]),
    ("activate", "lights", "bedroom", ["turn on the lights in the bedroom", "bedroom lights on"]),
    ("deactivate", "lights", "kitchen", ["turn off the lights in the kitchen", "kitchen lights off"]),
    ("deactivate", "lights", "bedroom", ["turn off the bedroom lights", "switch off the lights in the bedroom"]),
    ("increase", "volume", "none", ["turn up the volume", "louder please", "increase the volume"]),
    ("decrease", "volume", "none", ["turn down the volume", "quieter please", "decrease the volume"]),
    ("increase", "heat", "washroom", ["turn up the heat in the washroom", "washroom heat up"]),
    ("decrease", "heat", "washroom", ["turn down the heat in the washroom", "washroom heat down"]),
    ("activate", "music", "none", ["play the music", "put on some music"]),
    ("deactivate", "music", "none", ["stop the music", "pause the music"]),
    ("bring", "newspaper", "none", ["bring me the newspaper", "get me the newspaper"]),
    ("bring", "shoes", "none", ["bring my shoes", "get me my shoes"]),
    ("change language", "German", "none", ["switch the language to german", "use german"]),
    ("change language", "English", "none", ["switch the language to english", "use english"]),
]

EMOTION_STYLES = ["neutral", "happy", "sad", "angry"]


def _pick(rng, words, core, core_prob):
    if core and rng.random() < core_prob:
        return core[rng.integers(len(core))]
    return words[rng.integers(len(words))]


def sentence(rng, core_prob=0.65):
    """One sentence (lower case words separated by spaces) from the grammar."""
    noun = lambda: _pick(rng, NOUNS, CORE_NOUNS, core_prob)  # noqa: E731
    adj = lambda: _pick(rng, ADJECTIVES, CORE_ADJECTIVES, core_prob)  # noqa: E731
    verb = lambda: _pick(rng, VERBS, CORE_VERBS, core_prob)  # noqa: E731
    subject = NAMES[rng.integers(len(NAMES))] if rng.random() < 0.3 else f"the {adj()} {noun()}"
    parts = [subject, verb(), f"the {noun()}"]
    if rng.random() < 0.7:
        parts.append(f"{PREPOSITIONS[rng.integers(len(PREPOSITIONS))]} the {adj()} {noun()}")
    if rng.random() < 0.4:
        parts.append(ADVERBS[rng.integers(len(ADVERBS))])
    return " ".join(parts)


def short_phrase(rng):
    """A few words, used for the short utterances of the speaker-recognition layouts."""
    return sentence(rng) if rng.random() < 0.8 else " ".join(
        DIGITS[d] for d in rng.integers(0, 10, size=rng.integers(4, 8))
    )
