"""The guided spatio-temporal attention captioner (paper Eq. 1-10), read top-down.

Shapes: B batch, T motion frames (after downsampling), J joints, P = 6 body parts, L caption
steps, H hidden (= part feature size), D attention/projection width, E embedding, V vocabulary.
Part order (columns of α): root, torso, left_arm, right_arm, left_leg, right_leg.

Equations (paper numbering) and where they live:
  encoder      P_ik = [tanh(W2p tanh(W1p X_ik)) ; tanh(W2v tanh(W1v V_ik))]   PartEncoder.forward
  Eq. 2-3      z_tk = w_h·tanh(W_p R_k + W_h h_t),  γ_t = softmax_k(z_t)           Captioner.attend
  Eq. 4        Γ_tk = exp(-(k - m_t)² / 2σ_t²),  m_t = Σ k γ_tk,  σ_t² = Σ γ_tk (k - m_t)²   gaussian_window
  Eq. 5-6      s_tk = w_s·tanh(W_ps R_k + W_hs h_t),  α_tk = softmax_parts(s_tk)   Captioner.attend
  Eq. 7        β̂_t = sigmoid(W_b h_t + W_e E y_{t-1})                              Captioner.readout
  Eq. 8        c_t = Σ_k Σ_i Γ_tk α_tki P_ik  (mean over parts by default, as the code)   Captioner.attend
  Eq. 9        ĉ_t = β̂_t tanh(W_c c_t) + (1 - β̂_t) tanh(W_r h̃_t)                   Captioner.readout
  Eq. 1, 10    p(y_t) = softmax(W_out tanh(W_mix [E y_{t-1} ; ĉ_t ; h_t]))         Captioner.readout
Bottom LSTM: h_t from the previous word only; top LSTM: h̃_t from h_t only (as the official code;
motion reaches the words through ĉ_t). Padded frames get α = 0, γ = 0 and Γ = 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from m2t.converters.skeletons import get_skeleton

from .config import CaptionerConfig
from .results import FWHM_C, window_span  # noqa: F401 (re-exported: the span rule lives in results)


@dataclass
class Attention:
    """Per-step attention trace. α (B, L, T, P), γ and Γ (B, L, T), m and σ (B, L) in frames,
    β̂ (B, L)."""
    alpha: torch.Tensor
    gamma: torch.Tensor
    window: torch.Tensor
    centre: torch.Tensor
    width: torch.Tensor
    beta: torch.Tensor | None = None


@dataclass
class Memory:
    """Encoder output and the step-independent attention projections (computed once)."""
    parts: torch.Tensor        # P (B, T, P, H)
    spat_x: torch.Tensor       # W_ps R (B, T, D) [concat] or (B, T, P, D) [per_part]
    temp_x: torch.Tensor       # W_p R (B, T, D)
    mask: torch.Tensor         # (B, T) bool, True on real frames
    part_mask: torch.Tensor    # (B, P) 1.0 on observed body parts, 0.0 where the input has no data

    def index_select(self, idx: torch.Tensor) -> "Memory":
        return Memory(*(t.index_select(0, idx) for t in (self.parts, self.spat_x, self.temp_x, self.mask,
                                                          self.part_mask)))


def _tanh_linear(layer: nn.Linear, a: torch.Tensor, exact: bool = True) -> torch.Tensor:
    """layer(tanh(a)); `a` must be a fresh temporary (it is overwritten). exact=False uses
    tanh(a) = 2 sigmoid(2a) - 1 folded into the layer, W tanh(a) + b = 2W sigmoid(2a) + (b - W 1):
    the same function, but torch.sigmoid is ~3x cheaper than torch.tanh on CPU; results agree to
    float rounding (~1e-7). Decoding uses it; training and forward() keep torch.tanh."""
    if exact:
        return layer(a.tanh_())
    return F.linear(a.mul_(2).sigmoid_(), 2 * layer.weight, layer.bias - layer.weight.sum(1))


def _mlp(mlp: nn.Sequential, x: torch.Tensor, exact: bool = True) -> torch.Tensor:
    """Linear-Tanh-Linear-Tanh; exact=False in sigmoid form as `_tanh_linear` (the factors of 2
    folded into the weights are exact in floating point)."""
    if exact:
        return mlp(x)
    first, second = mlp[0], mlp[2]
    a = F.linear(x, 2 * first.weight, 2 * first.bias).sigmoid_()                       # σ(2 a1)
    z = F.linear(a, 4 * second.weight, 2 * (second.bias - second.weight.sum(1)))      # 2 a2
    return z.sigmoid_().mul_(2).sub_(1)                                                # tanh(a2)


class PartEncoder(nn.Module):
    """Per-part position and velocity MLPs: (B, T, J, 3) -> P (B, T, P, H)."""

    def __init__(self, parts, hidden: int, proj: int):
        super().__init__()
        self.parts = [list(p) for p in parts]
        for i, p in enumerate(self.parts):
            self.register_buffer(f"idx{i}", torch.tensor(p), persistent=False)

        def mlp(n):
            return nn.Sequential(nn.Linear(3 * n, proj), nn.Tanh(), nn.Linear(proj, hidden // 2), nn.Tanh())
        self.pos = nn.ModuleList(mlp(len(p)) for p in self.parts)
        self.vel = nn.ModuleList(mlp(len(p)) for p in self.parts)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, exact: bool = True) -> torch.Tensor:
        """exact=False: tanh in sigmoid form (see `_tanh_linear`), for decoding."""
        m = mask[..., None, None].to(x.dtype)
        x = x * m
        v = torch.zeros_like(x)
        v[:, 1:] = (x[:, 1:] - x[:, :-1]) * m[:, 1:]                       # v_0 = 0, first differences
        out = []
        for i in range(len(self.parts)):
            idx = getattr(self, f"idx{i}")
            out.append(_mlp(self.pos[i], x.index_select(2, idx).flatten(2), exact))  # (B, T, H/2)
            out.append(_mlp(self.vel[i], v.index_select(2, idx).flatten(2), exact))
        B, T = x.shape[:2]
        return torch.cat(out, -1).view(B, T, len(self.parts), -1)           # (B, T, P, H), one copy


def gaussian_window(gamma: torch.Tensor, mask: torch.Tensor, sigma_min: float):
    """Eq. 4: γ (B, L, T) -> (Γ (B, L, T), m (B, L), σ (B, L)); σ >= sigma_min so never NaN."""
    k = torch.arange(gamma.shape[-1], device=gamma.device, dtype=gamma.dtype)
    m = (gamma * k).sum(-1)
    var = (gamma * (k - m[..., None]) ** 2).sum(-1)
    sigma = torch.sqrt(var + sigma_min ** 2)
    window = torch.exp(-((k - m[..., None]) ** 2) / (2 * sigma[..., None] ** 2))
    return window * mask[:, None, :].to(window.dtype), m, sigma


class Captioner(nn.Module):
    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.cfg = cfg
        parts = get_skeleton(cfg.skeleton).parts
        P, H, D, E, V = len(parts), cfg.hidden, cfg.proj, cfg.emb, cfg.vocab_size
        self.n_parts = P
        self.encoder = PartEncoder(parts, H, D)
        self.embed = nn.Embedding(V, E)
        self.drop_in = nn.Dropout(cfg.dropout)
        self.drop_out = nn.Dropout(cfg.dropout)
        self.bottom = nn.LSTM(E, H, batch_first=True)
        self.top = nn.LSTM(H, H, batch_first=True)
        per_part = cfg.spatial_scoring == "per_part"
        self.spat_x = nn.Linear(H if per_part else P * H, D)              # W_ps
        self.spat_h = nn.Linear(H, D)                                     # W_hs
        self.spat_out = nn.Linear(D, 1 if per_part else P)                # w_s
        self.temp_x = nn.Linear(P * H, D)                                 # W_p
        self.temp_h = nn.Linear(H, D)                                     # W_h
        self.temp_out = nn.Linear(D, 1)                                   # w_h
        self.gate_h = nn.Linear(H, 1)                                     # W_b^h
        self.gate_e = nn.Linear(E, 1)                                     # W_e
        self.ctx = nn.Linear(H, D)                                        # W_c
        self.lang = nn.Linear(H, D)                                       # W_r
        n = D + E + H
        self.mix = nn.Linear(n, n) if cfg.output_layer == "mix" else None
        self.out = nn.Linear(n, V)

    # ---------------------------------------------------------------------------------- encoder
    def encode(self, x: torch.Tensor, mask: torch.Tensor, exact: bool = True,
               part_mask: torch.Tensor | None = None) -> Memory:
        """x (B, T, J, 3) normalised root-relative joints, mask (B, T) bool -> Memory.
        exact=False: tanh in sigmoid form (see `_tanh_linear`), for decoding.
        part_mask (B, P), 1 = observed: unobserved parts (a lower-body marker set has no arms)
        get zero features and α = 0 (m2t extension; None = every part observed, as the paper)."""
        P = self.encoder(x, mask, exact)
        B, n_parts = P.shape[0], P.shape[2]
        if part_mask is None:
            part_mask = torch.ones(B, n_parts, device=x.device, dtype=P.dtype)
        else:
            part_mask = part_mask.to(P.dtype)
            P = P * part_mask[:, None, :, None]
        R = P.flatten(2)                                                  # (B, T, P*H)
        spat = self.spat_x(P) if self.cfg.spatial_scoring == "per_part" else self.spat_x(R)
        return Memory(P, spat, self.temp_x(R), mask, part_mask)

    # -------------------------------------------------------------------------------- attention
    def attend(self, mem: Memory, h: torch.Tensor, exact: bool = True):
        """h (B, L, H) bottom-LSTM states -> context c (B, L, H) and the Attention trace.
        exact=False: the two (B, L, T, D) tanh through `_tanh_linear`'s sigmoid form (decoding)."""
        mask = mem.mask
        if self.cfg.spatial_scoring == "per_part":                       # (B, L, T, P)
            s = _tanh_linear(self.spat_out, mem.spat_x[:, None] + self.spat_h(h)[:, :, None, None], exact).squeeze(-1)  # Eq. 5
        else:
            s = _tanh_linear(self.spat_out, mem.spat_x[:, None] + self.spat_h(h)[:, :, None], exact)  # Eq. 5
        s = s.masked_fill(mem.part_mask[:, None, None, :] == 0, float("-inf"))   # unobserved parts: α = 0
        alpha = torch.softmax(s, -1) * mask[:, None, :, None].to(s.dtype)           # Eq. 6
        z = _tanh_linear(self.temp_out, mem.temp_x[:, None] + self.temp_h(h)[:, :, None], exact).squeeze(-1)  # Eq. 2
        gamma = torch.softmax(z.masked_fill(~mask[:, None, :], float("-inf")), -1)  # Eq. 3
        window, centre, width = gaussian_window(gamma, mask, self.cfg.sigma_min)    # Eq. 4
        w = window[..., None] * alpha                                                # (B, L, T, P)
        B, L, T, P = w.shape                                                         # Eq. 8 as one bmm
        c = torch.bmm(w.reshape(B, L, T * P), mem.parts.reshape(B, T * P, -1))     # (einsum copied P)
        if self.cfg.part_pool == "mean":
            c = c / self.n_parts
        return c, Attention(alpha, gamma, window, centre, width)

    # ---------------------------------------------------------------------------------- readout
    def readout(self, y_prev: torch.Tensor, h: torch.Tensor, h_top: torch.Tensor, c: torch.Tensor):
        """Eq. 7, 9, 10. y_prev (B, L) ids; h, h_top, c (B, L, H) -> logits (B, L, V), β̂ (B, L)."""
        e = self.embed(y_prev)
        beta = torch.sigmoid(self.gate_h(h) + self.gate_e(e)).squeeze(-1)           # Eq. 7
        c_hat = beta[..., None] * torch.tanh(self.ctx(c)) + (1 - beta[..., None]) * torch.tanh(self.lang(h_top))  # Eq. 9
        z = torch.cat([self.drop_out(e), c_hat, h], -1)
        logits = self.out(torch.tanh(self.mix(z))) if self.mix is not None else self.out(z)   # Eq. 10
        return logits, beta

    # ------------------------------------------------------------------------------- full passes
    def forward(self, x: torch.Tensor, mask: torch.Tensor, y_in: torch.Tensor,
                part_mask: torch.Tensor | None = None):
        """Teacher-forced pass over whole captions, all steps at once (the LSTMs see only words).

        x (B, T, J, 3), mask (B, T) bool, y_in (B, L) input ids (<sos> w1 ... w_{L-1}),
        part_mask (B, P) or None -> logits (B, L, V), Attention with β̂.
        """
        mem = self.encode(x, mask, part_mask=part_mask)
        h, _ = self.bottom(self.drop_in(self.embed(y_in)))
        h_top, _ = self.top(h)
        c, att = self.attend(mem, h)
        logits, att.beta = self.readout(y_in, h, h_top, c)
        return logits, att

    def init_state(self, batch: int, device=None):
        z = torch.zeros(1, batch, self.cfg.hidden, device=device)
        return (z, z.clone()), (z.clone(), z.clone())

    def step(self, mem: Memory, y_prev: torch.Tensor, state, exact: bool = True):
        """One decoding step. y_prev (B,) ids -> logits (B, V), new state, Attention (L = 1).
        exact=False: faster attention, equal up to float rounding (see `_tanh_linear`)."""
        (hb, cb), (ht, ct) = state
        e = self.drop_in(self.embed(y_prev[:, None]))
        h, (hb, cb) = self.bottom(e, (hb, cb))
        h_top, (ht, ct) = self.top(h, (ht, ct))
        c, att = self.attend(mem, h, exact)
        logits, att.beta = self.readout(y_prev[:, None], h, h_top, c)
        return logits[:, 0], ((hb, cb), (ht, ct)), att

    def forward_sequential(self, x, mask, y_in, teacher_forcing: float = 1.0, generator=None):
        """The reference training loop: one step at a time, feeding the ground-truth token with
        probability `teacher_forcing` (one coin per step for the whole batch, as the official
        code) and the model's previous argmax otherwise. Same outputs as forward() at 1.0."""
        mem = self.encode(x, mask)
        state = self.init_state(x.shape[0], x.device)
        prev = y_in[:, 0]
        logits, atts = [], []
        for t in range(y_in.shape[1]):
            lg, state, att = self.step(mem, prev, state)
            logits.append(lg)
            atts.append(att)
            if t + 1 < y_in.shape[1]:
                use_truth = teacher_forcing >= 1.0 or torch.rand((), generator=generator).item() < teacher_forcing
                prev = y_in[:, t + 1] if use_truth else lg.argmax(-1)
        cat = lambda name: torch.cat([getattr(a, name) for a in atts], 1)  # noqa: E731
        return torch.stack(logits, 1), Attention(cat("alpha"), cat("gamma"), cat("window"), cat("centre"),
                                                 cat("width"), cat("beta"))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
