"""Export a model directory's captioner to two ONNX graphs beside its weights, so captioning can
run on ONNX Runtime without torch (models.ort_decoding; `m2t export MODEL_DIR`).

- ``encoder.onnx``: x (B, T, J, 3) float32, mask (B, T) bool, part_mask (B, 6) float32 (1 =
  observed body part) -> the decoder's memory: parts P (B, T, 6, H), spat_x = W_ps R (B, T, D),
  temp_x = W_p R (B, T, D) (Captioner.encode, computed once per clip).
- ``decoder_step.onnx``: the memory, mask, part_mask, y_prev (B,) int64 and the two LSTM states
  h_bot, c_bot, h_top, c_top (B, H) -> logp (B, V) log-softmax of the next token, the new states
  (h_bot_next ... c_top_next),
  and the step's trace alpha (B, T, 6), gamma, window (B, T), centre, width, beta (B,)
  (Captioner.step; the LSTM cells are written out as their gate equations, which is what
  nn.LSTM computes for one step).
- ``onnx.json``: file names, the exporter and opset, the SHA-256 of the model.safetensors the
  graphs come from (models.modeldir.onnx_status refuses graphs of other weights), and the Porter
  stems of the vocabulary (captioning then never imports nltk).

Batch size and frame count are dynamic axes. The legacy TorchScript exporter is used
(``dynamo=False``: it handles dynamic axes; environment-notes), with a distinct tensor for every
input (one tensor passed for two inputs was once silently aliased by an exporter). Needs the
``onnx`` package (extra ``m2t[export]``); the tests compare whole decoding loops with torch.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from m2t.converters.errors import M2TError
from m2t.converters.fileio import atomic_path

from .checkpoint import load_bundle
from .modeldir import ONNX_DECODER, ONNX_ENCODER, ONNX_FORMAT, ONNX_MANIFEST, weights_digest
from .network import Captioner, Memory

OPSET = 17
STATE_NAMES = ("h_bot", "c_bot", "h_top", "c_top")
STATE_OUT = tuple(f"{n}_next" for n in STATE_NAMES)      # an output may not share an input's name
MEMORY_NAMES = ("parts", "spat_x", "temp_x")
TRACE_NAMES = ("alpha", "gamma", "window", "centre", "width", "beta")


class ExportError(M2TError):
    """The ONNX export cannot run here (e.g. the onnx package is missing)."""


class EncoderGraph(nn.Module):
    def __init__(self, model: Captioner):
        super().__init__()
        self.model = model

    def forward(self, x, mask, part_mask):
        mem = self.model.encode(x, mask, part_mask=part_mask)
        return mem.parts, mem.spat_x, mem.temp_x


def _lstm_cell(lstm: nn.LSTM, x, h, c):
    """One step of a 1-layer nn.LSTM (gate order i, f, g, o), as plain matmuls."""
    gates = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
    i, f, g, o = gates.chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class DecoderStepGraph(nn.Module):
    def __init__(self, model: Captioner):
        super().__init__()
        self.model = model

    def forward(self, parts, spat_x, temp_x, mask, part_mask, y_prev, h_bot, c_bot, h_top, c_top):
        m = self.model
        e = m.embed(y_prev)                                                  # (B, E); dropout off
        h_bot, c_bot = _lstm_cell(m.bottom, e, h_bot, c_bot)
        h_top, c_top = _lstm_cell(m.top, h_bot, h_top, c_top)
        c, att = m.attend(Memory(parts, spat_x, temp_x, mask, part_mask), h_bot[:, None])
        logits, beta = m.readout(y_prev[:, None], h_bot[:, None], h_top[:, None], c)
        logp = torch.log_softmax(logits[:, 0], -1)
        return (logp, h_bot, c_bot, h_top, c_top, att.alpha[:, 0], att.gamma[:, 0], att.window[:, 0],
                att.centre[:, 0], att.width[:, 0], beta[:, 0])


def _example(model: Captioner, B: int = 3, T: int = 7):
    """Distinct example tensors for every graph input (never one object for two inputs)."""
    cfg = model.cfg
    J = 21 if cfg.skeleton == "kit" else 22
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, J, 3, generator=g)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, T - 2:] = False
    part_mask = torch.ones(B, model.n_parts)
    part_mask[1, 2] = 0.0
    with torch.no_grad():
        mem = model.encode(x, mask, part_mask=part_mask)
    states = [torch.randn(B, cfg.hidden, generator=g) * 0.1 for _ in STATE_NAMES]
    y = torch.tensor([1, 5 % cfg.vocab_size, 2][:B] + [1] * max(0, B - 3), dtype=torch.long)
    return ((x, mask, part_mask),
            (mem.parts.clone(), mem.spat_x.clone(), mem.temp_x.clone(), mask.clone(), part_mask.clone(), y, *states))


def export_model(model: Captioner, directory, weights_sha256: str | None = None, vocab=None) -> list[Path]:
    """Write encoder.onnx, decoder_step.onnx and onnx.json into `directory` (each atomically).
    With the model's `vocab`, onnx.json also holds the Porter stems of its words, so captioning
    on ONNX Runtime needs no nltk import (models.supervision.seed_stems)."""
    try:
        import onnx  # noqa: F401  (the exporter needs it; say so in one line)
    except ImportError:
        raise ExportError("ONNX export needs the 'onnx' package: pip install 'm2t[export]'") from None
    d = Path(directory)
    model = model.cpu().eval()
    enc_in, dec_in = _example(model)
    BT = {0: "batch", 1: "frames"}
    B = {0: "batch"}
    specs = [(ONNX_ENCODER, EncoderGraph(model), enc_in, ["x", "mask", "part_mask"], list(MEMORY_NAMES),
              {"x": BT, "mask": BT, "part_mask": B, **{n: BT for n in MEMORY_NAMES}}),
             (ONNX_DECODER, DecoderStepGraph(model), dec_in,
              [*MEMORY_NAMES, "mask", "part_mask", "y_prev", *STATE_NAMES], ["logp", *STATE_OUT, *TRACE_NAMES],
              {**{n: BT for n in (*MEMORY_NAMES, "mask", "alpha", "gamma", "window")},
               **{n: B for n in ("part_mask", "y_prev", *STATE_NAMES, *STATE_OUT, "logp", "centre", "width",
                                 "beta")}})]
    written = []
    for name, graph, args, inputs, outputs, axes in specs:
        with atomic_path(d / name) as tmp, warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")              # the legacy exporter's deprecation notice
            torch.onnx.export(graph, args, str(tmp), dynamo=False, opset_version=OPSET, input_names=inputs,
                              output_names=outputs, dynamic_axes=axes, do_constant_folding=True)
        written.append(d / name)
    manifest = {"onnx_format": ONNX_FORMAT, "encoder": ONNX_ENCODER, "decoder_step": ONNX_DECODER,
                "opset": OPSET, "exporter": f"torch {torch.__version__} (TorchScript, dynamo=False)",
                "weights_sha256": weights_sha256 or weights_digest(d)}
    if vocab is not None:
        from .stems import stem
        from .lexicon import load_lexicon
        irregular = load_lexicon().irregular
        words = {w for t in vocab.itos for w in (t.lower(), irregular.get(t.lower(), t.lower()))}
        manifest["stems"] = {w: stem(w) for w in sorted(words)}
    with atomic_path(d / ONNX_MANIFEST) as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n")
    return written + [d / ONNX_MANIFEST]


def export_dir(model_dir) -> list[Path]:
    """`m2t export MODEL_DIR`: load the directory's weights and write the ONNX graphs beside them."""
    bundle = load_bundle(model_dir, "cpu")
    return export_model(bundle.model, model_dir, weights_digest(model_dir), bundle.vocab)
