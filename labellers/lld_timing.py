"""Where each OpenSMILE LLD row sits in time: its analysis frame, hence its centre.

OpenSMILE's row k of every LLD starts at k * 10 ms, but the frame it describes is 20 ms long for
the energy and spectral descriptors and 60 ms for the pitch chain (F0, voicing, jitter, shimmer,
HNR) and ComParE's zero-crossing rate (emobase: 25 ms and 40 ms). The `_sma` smoothing is a
centred 3-row average, so row k is centred at k * 10 ms + frame / 2: 10 ms or 30 ms after its
start. SpeechBrain's (centred) Fbank frame j, and every encoder frame of this collection, is
centred at j * 10 ms, so a target read at the row's start would lag the audio it describes by one
or three frames. The labellers read each column at its centre (labellers.frames).

OpenSMILE's own frame times say the same per feature set (eGeMAPS rows end 20 ms after they
start, ComParE rows 60 ms), but not per column: eGeMAPS reports 20 ms for its F0, computed on
60 ms frames. `tests/labellers/test_lld_timing.py` measures every column's centre on audio with a
planted event instead.

Example
-------
>>> frame_seconds("F0final_sma", "ComParE_2016"), frame_seconds("Loudness_sma3", "eGeMAPSv02")
(0.06, 0.02)
"""

# the F0 chain of the GeMAPS family and ComParE: every column computed from the 60 ms pitch frames
_PITCH_CHAIN = ("F0", "voic", "jitter", "shimmer", "HNR")
_GEMAPS_COMPARE = {"ComParE_2016", "GeMAPSv01a", "GeMAPSv01b", "eGeMAPSv01a", "eGeMAPSv01b", "eGeMAPSv02",
                   "torch"}  # "torch": labellers.lld_torch / lld_pitch, the same columns as openSMILE's


def frame_seconds(column, feature_set):
    """The length in seconds of the analysis frame of `column` in `feature_set`."""
    if feature_set in _GEMAPS_COMPARE:
        return 0.06 if column == "pcm_zcr_sma" or any(k in column for k in _PITCH_CHAIN) else 0.02
    if feature_set == "emobase":
        return 0.04 if column.startswith(("F0", "voiceProb")) else 0.025
    raise ValueError(f"the frame length of {column!r} in feature set {feature_set!r} is not known; add the "
                     "set to labellers/lld_timing.py (its frameSize values are in openSMILE's config)")


def frame_seconds_of(columns_by_set):
    """{column: frame seconds} for the mixed table of several sets, `[(set, its columns), ...]` in order
    (a column in two sets is the first set's, as in the mixed table)."""
    out = {}
    for feature_set, columns in columns_by_set:
        for column in columns:
            out.setdefault(column, frame_seconds(column, feature_set))
    return out


def stored_frame_seconds(features):
    """{column: frame seconds} of a pseudo-label folder's features.json, also one written before the
    frame lengths were recorded (every column then taken from the first set that can name it)."""
    if "frame_seconds" in features:
        return dict(features["frame_seconds"])
    sets = features.get("feature_sets", ["eGeMAPSv02"])
    if "emobase" in sets and len(sets) > 1:
        raise ValueError("this features.json mixes emobase with other sets and does not record which set each "
                         "column came from; re-run extract.py into a new output_folder")
    return frame_seconds_of([(sets[0], features["columns"])])
