"""The encoder folder: what recipes/MultitaskSSL exports and every downstream recipe loads.

The folder holds `encoder.ckpt` (the state dict) and `hyperparams.yaml` (the encoder's own `!new:`
definition and a SpeechBrain `Pretrainer`), so it loads from a local path, moved or copied:

- `export_encoder(encoder, folder)`: writes it, for an encoder of lobes.encoders;
- `load_encoder_folder(folder, pretrained=True, seed=0, architecture=None)`: the encoder, its weights
  checked key by key and loaded through the Pretrainer (or seeded random ones); with `architecture`,
  the YAML is read as data only, for a folder of unknown origin;
- `load_pretrained_encoder(folder, device)`: the pretrained encoder on `device`, in eval mode.
"""

import json
import os
import re

import torch
from hyperpyyaml import load_hyperpyyaml


class UpstreamError(ValueError):
    """An encoder spec or folder that cannot be used; names the path and what was expected (raised here and by
    lobes.upstream, which re-exports it)."""


def export_encoder(encoder, folder):
    """Writes `encoder.ckpt` and `hyperparams.yaml` for SpeechBrain's Pretrainer; returns the folder."""
    encoder = getattr(encoder, "module", encoder)
    config = getattr(encoder, "config", None)
    if config is None:
        raise ValueError(f"{type(encoder).__name__} does not record its constructor arguments (`config`); "
                         "only encoders of lobes.encoders can be exported")
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    torch.save(encoder.state_dict(), os.path.join(folder, "encoder.ckpt"))
    cls = f"{type(encoder).__module__}.{type(encoder).__name__}"
    # No absolute path inside: the folder can be copied or moved and still loads (`folder` is given at load time).
    lines = ["# Encoder pretrained by recipes/MultitaskSSL. Load it with",
             "#   lobes.encoder_folder.load_pretrained_encoder(<this folder>)",
             "# or load_hyperpyyaml(<this file>, {'folder': <this folder>}) and call pretrainer.collect_files() /",
             "# load_collected(). Loading runs this file through hyperpyyaml, which can run code: from an untrusted",
             "# source, use lobes.encoder_folder.load_encoder_folder(<folder>, architecture=<class name>) instead.",
             "folder: !PLACEHOLDER",
             f"encoder: !new:{cls}"]
    lines += [f"    {key}: {json.dumps(value)}" for key, value in config.items()]
    lines += ["pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer",
              "    collect_in: !ref <folder>/collected",
              "    loadables:",
              "        encoder: !ref <encoder>",
              "    paths:",
              "        encoder: !ref <folder>/encoder.ckpt"]
    with open(os.path.join(folder, "hyperparams.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return folder


def load_pretrained_encoder(folder, device="cpu"):
    """The exported encoder, weights checked and loaded through SpeechBrain's Pretrainer, in eval mode
    (`load_encoder_folder`, which also names a missing file or a mismatched key)."""
    return load_encoder_folder(folder).to(device).eval()


def _encoder_yaml_path(folder):
    path = os.path.join(folder, "hyperparams.yaml")
    if not os.path.isfile(path):
        raise UpstreamError(f"{path} not found: an encoder folder holds hyperparams.yaml and encoder.ckpt, "
                            "as written by recipes/MultitaskSSL/train.py (<save_folder>/pretrained_encoder)")
    return path


def _read_encoder_yaml(folder):
    """The `encoder` of an exported folder's hyperparams.yaml (fresh random weights). The file goes through
    hyperpyyaml, which can run code: see `load_encoder_folder(architecture=...)` for folders of unknown origin."""
    path = _encoder_yaml_path(folder)
    with open(path) as f:
        text = f.read()
    # folders exported since the file became relocatable name their own folder at load time
    overrides = {"folder": folder} if re.search(r"^folder:\s*!PLACEHOLDER", text, re.M) else None
    hparams = load_hyperpyyaml(text, overrides)
    if "encoder" not in hparams:
        raise UpstreamError(f"{path} defines no `encoder:` key; expected the file written by "
                            "lobes.encoder_folder.export_encoder")
    return hparams["encoder"]


def _build_named_encoder(folder, architecture):
    """The encoder class `architecture` of lobes.encoders, built from the constructor arguments in the folder's
    hyperparams.yaml read as plain data: no tag of the file is executed, and the file must name that class."""
    from lobes import encoders

    path = _encoder_yaml_path(folder)
    cls = getattr(encoders, str(architecture), None)
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        raise UpstreamError(f"architecture {architecture!r} is not an encoder class of lobes.encoders")
    with open(path) as f:
        lines = f.read().splitlines()
    start = [k for k, line in enumerate(lines) if line.startswith("encoder:")]
    named = lines[start[0]].split("!new:", 1)[-1].strip() if start else None
    if named != f"lobes.encoders.{architecture}":
        raise UpstreamError(f"{path} defines encoder {named!r}, not lobes.encoders.{architecture}: name the "
                            "architecture the folder was exported with")
    config = {}
    for line in lines[start[0] + 1:]:
        if not line.startswith("    "):
            break
        key, _, value = line.strip().partition(":")
        try:
            config[key] = json.loads(value)  # export_encoder writes every argument as JSON
        except json.JSONDecodeError:
            raise UpstreamError(f"{path}: argument {key!r} is not plain data ({value.strip()!r}); this loader "
                                "reads only what export_encoder writes") from None
    return cls(**config)


def load_encoder_folder(folder, pretrained=True, seed=0, architecture=None):
    """The exported encoder: pretrained weights (checked key by key), or seeded random ones.

    `architecture`: the class name in lobes.encoders (e.g. "FbankCRDNN") for a folder from an untrusted source; its
    hyperparams.yaml is then read as data only (hyperpyyaml would run any `!apply:` in it) and must name that class.
    """
    folder = os.path.abspath(folder)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        encoder = _read_encoder_yaml(folder) if architecture is None else _build_named_encoder(folder, architecture)
    if not pretrained:
        return encoder
    from speechbrain.utils.fetching import LocalStrategy
    from speechbrain.utils.parameter_transfer import Pretrainer

    ckpt = os.path.join(folder, "encoder.ckpt")
    if not os.path.isfile(ckpt):
        raise UpstreamError(f"{ckpt} not found: the folder has hyperparams.yaml but no weights; copy the whole "
                            "folder that recipes/MultitaskSSL/train.py exported (<save_folder>/pretrained_encoder), "
                            "or use random:<folder> for a random-weight twin")
    # The Pretrainer only warns about missing or unexpected keys: check them first.
    try:
        stored = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as error:  # torch's unpickler errors name neither the file nor the fix
        raise UpstreamError(f"{ckpt} cannot be read ({type(error).__name__}: {error}); the file is damaged or "
                            "not a state dict: copy or export the folder again") from error
    expected = encoder.state_dict()
    missing, unexpected = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    wrong = sorted(k for k in set(expected) & set(stored) if expected[k].shape != stored[k].shape)
    if missing or unexpected or wrong:
        raise UpstreamError(f"{ckpt} does not match the encoder of {folder}/hyperparams.yaml: "
                            f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}, "
                            f"shape mismatches {wrong[:5]}; export the folder again with its own checkpoint")
    # Loaded in place (no link written into the folder): parallel runs and read-only folders work,
    # and a moved folder still loads.
    pretrainer = Pretrainer(collect_in=folder, loadables={"encoder": encoder}, paths={"encoder": ckpt})
    pretrainer.collect_files(local_strategy=LocalStrategy.NO_LINK)
    pretrainer.load_collected()
    return encoder
