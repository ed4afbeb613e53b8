"""CTC beam search over a word lexicon with a word n-gram LM (torchaudio's flashlight-text lexicon decoder).

The lexicon holds every word of the training transcripts spelled by the ASR tokenizer itself (SentencePiece pieces,
`▁`-prefixed words), so the search only emits those words; `lobes.ngram.KneserNeyLM` scores each word given the ones
before it, plugged in through torchaudio's `CTCDecoderLM` (the custom-LM hook, used here because KenLM is not
installable). `lm_weight` and `word_score` are free parameters of the search: choose them on the dev set.
"""

import os

import torch
from torchaudio.models.decoder import CTCDecoderLM, CTCDecoderLMState, ctc_decoder

from lobes.ngram import EOS, KneserNeyLM

UNK_WORD = "<unk>"


class NgramDecoderLM(CTCDecoderLM):
    """`KneserNeyLM` behind torchaudio's custom-LM interface: one state per word history."""

    def __init__(self, lm, words):
        CTCDecoderLM.__init__(self)
        self.lm, self.words, self.histories = lm, words, {}

    def start(self, start_with_nothing):
        self.histories = {}  # a new utterance: forget the states of the last one
        state = CTCDecoderLMState()
        self.histories[state] = ()
        return state

    def score(self, state, usr_token_idx):
        word = self.words[usr_token_idx]
        history = self.histories[state]
        child = state.child(usr_token_idx)
        if child not in self.histories:
            self.histories[child] = (history + (word,))[-(self.lm.order - 1):] if self.lm.order > 1 else ()
        return child, self.lm.log_prob(history, word) if word != UNK_WORD else float("-inf")

    def finish(self, state):
        return state, self.lm.log_prob(self.histories[state], EOS)


class LexiconLMDecoder:
    """Word-level CTC decoding: `decoder(log_probs [B, T, V], relative lengths [B]) -> list of word strings`.

    Arguments
    ---------
    sentences : list of str
        Training transcripts: the lexicon and the n-gram LM come from them.
    tokenizer : speechbrain SentencePiece
        The ASR tokenizer; its id 0 (`<unk>`) is the CTC blank, its `▁` piece the word boundary.
    folder : str
        Where the lexicon and word list are written (for inspection; rebuilt on every start).
    order, discount : int, float
        Of the Kneser-Ney n-gram.
    beam_size, lm_weight, word_score : int, float, float
        Of the flashlight lexicon beam search.
    """

    def __init__(self, sentences, tokenizer, folder, order=3, discount=0.75, beam_size=50, lm_weight=1.0,
                 word_score=0.0):
        sentences = [s.split() for s in sentences if s.strip()]
        self.lm = KneserNeyLM(sentences, order=order, discount=discount)
        sp = tokenizer.sp
        self.tokens = [sp.id_to_piece(i) for i in range(sp.vocab_size())]
        if "▁" not in self.tokens:
            raise ValueError("the tokenizer has no '▁' piece to mark word boundaries; use token_type char or unigram")
        words = [w for w in self.lm.vocab if w != EOS]
        os.makedirs(folder, exist_ok=True)
        self.lexicon_path = os.path.join(folder, "lexicon.txt")
        with open(self.lexicon_path, "w", encoding="utf-8") as f:
            for word in words:
                pieces = sp.encode_as_pieces(word)
                if len(pieces) > 1 and pieces[0] == "▁":  # a lone boundary piece (char models): it is the silence
                    pieces = pieces[1:]
                f.write(f"{word} {' '.join(pieces)}\n")
        self.words_path = os.path.join(folder, "lm_words.txt")  # the LM's word index = the decoder's word index
        self.words = words + [UNK_WORD]
        with open(self.words_path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.words) + "\n")
        self.beam_size = beam_size
        self.set_weights(lm_weight, word_score)

    def set_weights(self, lm_weight, word_score):
        """A new search with these weights (the lexicon and LM are kept)."""
        self.lm_weight, self.word_score = lm_weight, word_score
        self.search = ctc_decoder(lexicon=self.lexicon_path, tokens=self.tokens,
                                  lm=NgramDecoderLM(self.lm, self.words), lm_dict=self.words_path,
                                  beam_size=self.beam_size, lm_weight=lm_weight, word_score=word_score,
                                  blank_token=self.tokens[0], sil_token="▁", unk_word=UNK_WORD)

    def __call__(self, log_probs, lens):
        frames = torch.round(lens.float() * log_probs.shape[1]).int().cpu()
        hyps = self.search(log_probs.detach().float().cpu().contiguous(), frames)
        return [" ".join(h[0].words) if h else "" for h in hyps]
