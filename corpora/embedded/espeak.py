"""Speech synthesis with eSpeak NG through the library bundled in `espeakng-loader`.

eSpeak keeps global state between calls (voice, filter and pitch history), so
the same call can give slightly different samples depending on what was spoken
before. For a corpus that is identical whatever the order of generation, every
`synthesize` reloads the library (well under a millisecond) and seeds both
random generators eSpeak draws from.

Example
-------
>>> tts = Espeak()
>>> wav, words = tts.synthesize("hello world", voice="en-us+m3")
>>> tts.sample_rate, wav.dtype, [w.text for w in words]
(22050, dtype('float32'), ['hello', 'world'])
"""

import _ctypes
import ctypes
from dataclasses import dataclass

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass
class WordEvent:
    """A word of the input text and where eSpeak started speaking it (seconds)."""

    text: str
    start: float


class Espeak:
    """Thin ctypes binding: voice, prosody parameters, samples and word timings."""

    def __init__(self):
        import espeakng_loader

        self._lib_path = espeakng_loader.get_library_path()
        self._data_path = espeakng_loader.get_data_path().encode()
        self._libc = ctypes.CDLL(None)
        self._lib, self.sample_rate = None, None
        self._chunks, self._events = [], []
        # Keep a reference: ctypes frees the trampoline if the Python object dies.
        self._callback = _CALLBACK(self._collect)
        self._reload()

    def _reload(self):
        """Unloads and loads the library so that no state of an earlier call survives."""
        if self._lib is not None:
            self._lib.espeak_Terminate()
            _ctypes.dlclose(self._lib._handle)
        lib = ctypes.CDLL(self._lib_path)
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data_path, 0)
        if rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise from {self._lib_path}; "
                               "reinstall the espeakng-loader wheel")
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        self._lib, self.sample_rate = lib, rate

    def _collect(self, wav, n, events):
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_WORD:
                self._events.append((ev.text_position, ev.length, ev.audio_position))
            i += 1
        return 0

    def synthesize(self, text, voice="en-us", rate=175, pitch=50, pitch_range=50,
                   volume=100, wordgap=0, seed=0):
        """Returns (float32 waveform in [-1, 1] at `sample_rate`, list of WordEvent)."""
        self._reload()
        lib = self._lib
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}; try e.g. 'en-us+m3'")
        for name, value in (("rate", rate), ("pitch", pitch), ("range", pitch_range),
                            ("volume", volume), ("wordgap", wordgap)):
            lib.espeak_SetParameter(_PARAM[name], int(round(value)), 0)
        lib.espeak_SetSynthCallback(self._callback)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        # Breath and voicing noise come from eSpeak's own generator and libc's rand().
        lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        self._libc.srand(ctypes.c_uint(seed))
        status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"eSpeak NG synthesis failed (status {status}) for {text!r}")
        wav = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        words = [
            # text_position counts characters from 1 in the UTF-8 input.
            WordEvent(data[pos - 1: pos - 1 + length].decode("utf-8", "replace"), ms / 1000.0)
            for pos, length, ms in self._events
        ]
        return wav.astype(np.float32) / 32768.0, words
