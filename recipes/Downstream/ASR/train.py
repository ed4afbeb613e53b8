#!/usr/bin/env python3
"""Downstream ASR: any upstream encoder + a conv/BiLSTM head trained with CTC (LibriSpeech layout).

    python train.py hparams/ctc.yaml
    python train.py hparams/ctc.yaml --encoder mfcc --number_of_epochs 6
    python train.py hparams/ctc.yaml --encoder pretrained:<folder> --device cuda:0 --precision bf16
    torchrun --nproc_per_node=2 train.py hparams/ctc.yaml

The upstream (frozen unless `freeze_encoder: False`) gives frames, which are normalized with
global statistics and SpecAugment-masked in training; the head predicts SentencePiece
tokens (characters by default; trained once per `tokenizer_folder` on the training transcripts). Every epoch is
scored by its greedy dev WER, which picks the checkpoint kept. At the end the best checkpoint
decodes dev and test with greedy search, prefix beam search and a word-level search with an n-gram LM of the
training transcripts (its weights chosen on dev); the decoder best on dev gives the reported test WER. Outputs in
`<output_folder>`: `wer_test.txt` (per-utterance alignments of the chosen decoder),
`wer_{dev,test}_{greedy,beam,lm}.txt`, `lm/dev_grid.txt`, `metrics.json`.
"""

import hashlib
import logging
import os
import sys
import time

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.decoders.ctc import ctc_greedy_decode
from speechbrain.utils.distributed import if_main_process, run_on_main

from corpora.audio import load_audio
from corpora.files import write_json, write_text
from corpora.manifest import check_audio_files, read_csv
from lobes.asr import ErrorRates
from lobes.ctc_lm import LexiconLMDecoder
from lobes.distributed import CpuDistributedMixin
from lobes.frame_cache import FrameCache
from lobes.upstream import claim_output_folder, optimizer_groups, prepare_upstream, recoverables

logger = logging.getLogger(__name__)


class ASRBrain(CpuDistributedMixin, sb.Brain):
    """Upstream -> global normalization -> (SpecAugment) -> CTC head."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        feats, lens = self.frame_cache(self.modules.upstream, wavs, wav_lens, batch.id)  # frozen: computed once
        feats = self.modules.normalize(feats, lens, epoch=self.hparams.epoch_counter.current)
        if stage == sb.Stage.TRAIN:
            feats, _ = self.hparams.fea_augment(feats, lens)
        return self.modules.head(feats), lens

    def compute_objectives(self, predictions, batch, stage):
        log_probs, lens = predictions
        tokens, token_lens = batch.tokens
        loss = sb.nnet.losses.ctc_loss(log_probs.float(), tokens, lens, token_lens, self.hparams.blank_index)
        if stage == sb.Stage.VALID:  # the per-epoch dev WER that picks the checkpoint
            self.error_rates.append(batch.id, self.greedy(log_probs.float(), lens), list(batch.wrd))
        elif stage == sb.Stage.TEST:  # kept, to be decoded by every decoder (and LM weight) afterwards
            self.outputs.append((batch.id, log_probs.float().cpu(), lens.cpu(), list(batch.wrd)))
        return loss

    def greedy(self, log_probs, lens):
        """Word strings of a batch by greedy CTC decoding."""
        return [self.tokenizer.sp.decode_ids(ids) for ids in
                ctc_greedy_decode(log_probs, lens, blank_id=self.hparams.blank_index)]

    def beam(self, log_probs, lens):
        """Word strings of a batch by CTC prefix beam search (no language model)."""
        return [hyps[0].text for hyps in self.beam_searcher(log_probs, lens)]

    def init_optimizers(self):
        """Adam over the head (and a fine-tuned upstream at `encoder_lr`), checkpointed."""
        self.optimizer = self.opt_class(optimizer_groups(self.modules.upstream, [self.modules.head],
                                                         self.hparams.encoder_lr))
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def on_stage_start(self, stage, epoch=None):
        self.error_rates, self.outputs = ErrorRates(), []
        if stage == sb.Stage.TRAIN:
            self.epoch_start = time.time()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, "seconds": round(time.time() - self.epoch_start, 1)}
        elif stage == sb.Stage.VALID:
            stats = {"loss": stage_loss, **self.error_rates.summarize()}
            old_lr, new_lr = self.hparams.lr_annealing(stage_loss)
            for group in self.optimizer.param_groups:  # keeps the encoder/head ratio
                group["lr"] *= new_lr / old_lr
            # Saved before it is logged: an epoch in train_log.txt is an epoch a killed run resumes after.
            self.checkpointer.save_and_keep_only(meta={"WER": stats["WER"]}, min_keys=["WER"],
                                                 num_to_keep=self.hparams.num_ckpts_keep)
            self.hparams.train_logger.log_stats(stats_meta={"epoch": epoch, "lr": old_lr},
                                                train_stats=self.train_stats, valid_stats=stats)

    def outputs_of(self, dataset, loader_kwargs):
        """[(ids, log_probs, relative lengths, references)] per batch, from the best checkpoint (lowest dev WER)."""
        self.evaluate(dataset, min_key="WER", test_loader_kwargs=loader_kwargs)
        return self.outputs


def error_rates(outputs, decode):
    """ErrorRates of `decode(log_probs, lens) -> word strings` over kept outputs."""
    rates = ErrorRates()
    for ids, log_probs, lens, refs in outputs:
        rates.append(ids, decode(log_probs, lens), refs)
    return rates


def lm_decoder_chosen_on_dev(hparams, tokenizer, transcripts, dev_outputs):
    """The lexicon + n-gram LM decoder with the (lm_weight, word_score) of lowest dev WER; the grid is logged."""
    decoder = LexiconLMDecoder(transcripts, tokenizer, os.path.join(hparams["output_folder"], "lm"),
                               order=hparams["lm_order"], discount=hparams["lm_discount"],
                               beam_size=hparams["lm_beam_size"])
    grid = []
    for lm_weight in hparams["lm_weights"]:
        for word_score in hparams["word_scores"]:
            decoder.set_weights(lm_weight, word_score)
            grid.append((error_rates(dev_outputs, decoder).summarize()["WER"], lm_weight, word_score))
    lines = [f"lm_weight {w:g}, word_score {ws:g}: dev WER {wer:.2f}" for wer, w, ws in grid]
    write_text(os.path.join(hparams["output_folder"], "lm", "dev_grid.txt"), "\n".join(lines) + "\n")
    _, lm_weight, word_score = min(grid)
    logger.info("LM decoding: lm_weight %g, word_score %g chosen on dev (grid in lm/dev_grid.txt)",
                lm_weight, word_score)
    decoder.set_weights(lm_weight, word_score)
    return decoder


def dataio_prepare(hparams, tokenizer):
    """Train/valid/test datasets: signal and the transcript's token ids."""
    rate = hparams["sample_rate"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return load_audio(wav, rate)

    @sb.utils.data_pipeline.takes("wrd")
    @sb.utils.data_pipeline.provides("wrd", "tokens")
    def text_pipeline(wrd):
        yield wrd
        yield torch.LongTensor(tokenizer.sp.encode_as_ids(wrd))

    datasets = {}
    for split in ("train", "valid", "test"):
        data = DynamicItemDataset.from_csv(csv_path=hparams[f"{split}_csv"])
        data.add_dynamic_item(audio_pipeline)
        data.add_dynamic_item(text_pipeline)
        data.set_output_keys(["id", "sig", "wrd", "tokens"])
        if split == "train":
            keep = {"duration": hparams["max_train_seconds"]}
            if hparams["sorting"] in ("ascending", "descending"):
                data = data.filtered_sorted(sort_key="duration", reverse=hparams["sorting"] == "descending",
                                            key_max_value=keep)
            else:
                data = data.filtered_sorted(key_max_value=keep)
        else:  # sorted: less padding, and decoding does not depend on the batch order
            data = data.filtered_sorted(sort_key="duration")
        datasets[split] = data
    return datasets


def load_tokenizer(hparams, transcripts):
    """The SentencePiece model of `tokenizer_folder`, trained there first if absent.

    The model is tied to the transcripts it was trained on (a digest beside it): a folder reused with another
    training set would silently map unseen characters to `<unk>`, which is the CTC blank.
    """
    folder = hparams["tokenizer_folder"]
    digest = hashlib.sha256("\n".join(transcripts).encode()).hexdigest()
    stamp = os.path.join(folder, f"{hparams['vocab_size']}_{hparams['token_type']}.transcripts.sha256")
    model = os.path.join(folder, f"{hparams['vocab_size']}_{hparams['token_type']}.model")
    if os.path.exists(model) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() != digest:
                raise RuntimeError(f"{model} was trained on other transcripts than those of {hparams['train_csv']}; "
                                   "give this training set its own --tokenizer_folder (or delete the old one)")
    # made here by every process: SpeechBrain's SentencePiece checks, then creates it, and two torchrun processes
    # can both find it missing
    os.makedirs(folder, exist_ok=True)
    try:
        tokenizer = hparams["tokenizer"]()
    except RuntimeError as err:  # sentencepiece reports an impossible vocabulary size this way
        raise RuntimeError(f"training the tokenizer on {hparams['train_csv']} with vocab_size="
                           f"{hparams['vocab_size']} failed ({err}); set --vocab_size to at most the value "
                           "named above (small corpora have few distinct word pieces)") from None
    if if_main_process() and not os.path.exists(stamp):
        write_text(stamp, digest + "\n")
    return tokenizer


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    claim_output_folder(hparams["output_folder"], hparams["encoder"])
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file,
                                   overrides=overrides)
    if not hparams["skip_prep"]:
        run_on_main(hparams["prepare"])
    # a valid or test file gone since prepare would otherwise stop the run after a whole training epoch
    check_audio_files(hparams["train_csv"], hparams["valid_csv"], hparams["test_csv"])
    transcripts = [row["wrd"] for row in read_csv(hparams["train_csv"])]  # the tokenizer's and the LM's text
    tokenizer = load_tokenizer(hparams, transcripts)
    datasets = dataio_prepare(hparams, tokenizer)
    upstream = prepare_upstream(hparams["upstream"], hparams["train_csv"], seed=hparams["seed"])
    hparams["checkpointer"].add_recoverables(recoverables(upstream))
    # One output per token of the tokenizer actually trained (a char model ignores vocab_size).
    head = hparams["head"](output_neurons=tokenizer.sp.vocab_size())
    hparams["checkpointer"].add_recoverable("head", head)

    brain = ASRBrain(modules=dict(hparams["modules"], head=head), opt_class=hparams["opt_class"], hparams=hparams,
                     run_opts=run_opts, checkpointer=hparams["checkpointer"])
    brain.tokenizer = tokenizer
    brain.frame_cache = FrameCache(hparams["cache_frames_gb"])
    vocab = [tokenizer.sp.id_to_piece(i) for i in range(tokenizer.sp.vocab_size())]
    brain.beam_searcher = hparams["beam_search"](vocab_list=vocab)

    train_loader = dict(hparams["dataloader_options"], shuffle=hparams["sorting"] == "random")
    start = time.time()
    brain.fit(hparams["epoch_counter"], datasets["train"], datasets["valid"], train_loader_kwargs=train_loader,
              valid_loader_kwargs=hparams["valid_dataloader_options"])
    train_seconds = time.time() - start
    epochs = hparams["epoch_counter"].current  # before evaluate() loads the best checkpoint, counter included

    loader = hparams["valid_dataloader_options"]
    dev_outputs = brain.outputs_of(datasets["valid"], loader)
    test_outputs = brain.outputs_of(datasets["test"], loader)
    if not if_main_process():
        # SpeechBrain's logger runs on the main process and broadcasts its result: every process must call it once
        hparams["train_logger"].log_stats(stats_meta={"best checkpoint": ""}, test_stats={})
        return
    decoders = {"greedy": brain.greedy, "beam": brain.beam}
    if hparams["lm_order"] > 0:
        decoders["lm"] = lm_decoder_chosen_on_dev(hparams, tokenizer, transcripts, dev_outputs)
    out = hparams["output_folder"]
    dev, test = {}, {}
    for name, decode in decoders.items():
        for split, outputs, scores in (("dev", dev_outputs, dev), ("test", test_outputs, test)):
            rates = error_rates(outputs, decode)
            rates.write(os.path.join(out, f"wer_{split}_{name}.txt"))
            scores[name] = rates.summarize()
    hparams["train_logger"].log_stats(stats_meta={"best checkpoint": ""},
                                      test_stats={f"{split}_{name}_{k}": v for split, scores in
                                                  (("dev", dev), ("test", test)) for name, s in scores.items()
                                                  for k, v in s.items()})
    # The decoder is chosen on dev (ties go to the simpler one, in the order above), never on test.
    order = list(decoders)
    chosen = min(order, key=lambda d: (dev[d]["WER"], order.index(d)))
    with open(os.path.join(out, f"wer_test_{chosen}.txt"), encoding="utf-8") as f:
        write_text(os.path.join(out, "wer_test.txt"), f.read())
    metrics = {"wer": test[chosen]["WER"], "cer": test[chosen]["CER"], "decoder": chosen,
               "dev_wer": dev[chosen]["WER"], "dev_cer": dev[chosen]["CER"]}
    for name in order:
        metrics.update({f"wer_{name}": test[name]["WER"], f"cer_{name}": test[name]["CER"],
                        f"dev_wer_{name}": dev[name]["WER"]})
    if "lm" in decoders:
        metrics.update(lm_order=hparams["lm_order"], lm_weight=decoders["lm"].lm_weight,
                       word_score=decoders["lm"].word_score)
    metrics.update({"encoder": str(hparams["encoder"]), "seed": hparams["seed"], "train_seconds":
                    round(train_seconds, 1), "epochs": epochs, "token_type": hparams["token_type"],
                    "vocab_size": tokenizer.sp.vocab_size()})
    write_json(os.path.join(out, "metrics.json"), metrics)
    on_dev = ", ".join(f"{name} {dev[name]['WER']:.2f} %" for name in order)
    print(f"test WER {metrics['wer']:.2f} % ({chosen} decoding, chosen on dev: {on_dev}), CER {metrics['cer']:.2f} %; "
          f"alignments in {os.path.join(out, 'wer_test.txt')}, metrics in {os.path.join(out, 'metrics.json')}")

if __name__ == "__main__":
    main(sys.argv[1:])
