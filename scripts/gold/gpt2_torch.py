"""GPT-2 in plain PyTorch (no transformers), parameter for parameter the model hydra-dl builds.

Parameter names are Hugging Face's GPT2Model names without the `transformer.` prefix, with HF's Conv1D layout
(weight is (in, out), y = x @ W + b), so `named_parameters()` yields exactly hydra-dl's names and shapes:
wte.weight (V,C), wpe.weight (n_ctx,C), h.{i}.ln_1.*, h.{i}.attn.c_attn.* (C,3C), h.{i}.attn.c_proj.* (C,C),
h.{i}.ln_2.*, h.{i}.mlp.c_fc.* (C,4C), h.{i}.mlp.c_proj.* (4C,C), ln_f.*, and lm_head.weight (V,C) only when untied.

Forward: x = wte[tok] + wpe[pos]; dropout; per block x += dropout(c_proj(attn(ln_1 x))), x += dropout(c_proj(
gelu_tanh(c_fc(ln_2 x)))); ln_f; logits = x @ head^T; loss = mean cross-entropy over all B*T positions."""
import math

import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-5


class Conv1D(nn.Module):
    """HF's Conv1D: weight stored (in, out)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg["n_head"]
        self.c_attn = Conv1D(cfg["n_embd"], 3 * cfg["n_embd"])
        self.c_proj = Conv1D(cfg["n_embd"], cfg["n_embd"])

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.reshape(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y)


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = Conv1D(cfg["n_embd"], 4 * cfg["n_embd"])
        self.c_proj = Conv1D(4 * cfg["n_embd"], cfg["n_embd"])

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg["n_embd"], eps=LN_EPS)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg["n_embd"], eps=LN_EPS)
        self.mlp = Mlp(cfg)
        self.p = cfg["dropout"]

    def forward(self, x):
        x = x + F.dropout(self.attn(self.ln_1(x)), self.p, self.training)
        return x + F.dropout(self.mlp(self.ln_2(x)), self.p, self.training)


class Gpt2(nn.Module):
    """cfg: {n_layer, n_head, n_embd, n_ctx, vocab_size, dropout, tie} (hydra-dl's Gpt2Config)."""

    def __init__(self, cfg):
        super().__init__()
        if cfg["n_embd"] % cfg["n_head"]:
            raise ValueError(f"n_embd={cfg['n_embd']} must be divisible by n_head={cfg['n_head']}")
        self.cfg = dict(cfg)
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_ctx"], cfg["n_embd"])
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=LN_EPS)
        self.lm_head = None if cfg["tie"] else nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)

    def forward(self, tokens):
        B, T = tokens.shape
        if T > self.cfg["n_ctx"]:
            raise ValueError(f"sequence length {T} exceeds n_ctx={self.cfg['n_ctx']}")
        x = self.wte(tokens) + self.wpe(torch.arange(T, device=tokens.device))
        x = F.dropout(x, self.cfg["dropout"], self.training)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        head = self.wte.weight if self.lm_head is None else self.lm_head.weight
        return x @ head.t()

    def loss(self, tokens, targets):
        logits = self(tokens)
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def gpt2_init_(model, generator, std=0.02):
    """GPT-2 init: normal(0, std=0.02); c_proj weights normal(0, std/sqrt(2*n_layer)); biases 0; LayerNorm 1 / 0."""
    proj_std = std / math.sqrt(2 * model.cfg["n_layer"])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("c_proj.weight"):
                p.normal_(0.0, proj_std, generator=generator)
            elif is_layer_norm(name):
                p.fill_(1.0 if name.endswith(".weight") else 0.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.normal_(0.0, std, generator=generator)


def perturb_(model, generator, ln_weight=0.1, ln_bias=0.05, bias=0.02):
    """Make LayerNorm scales/shifts and biases non-trivial, so that a loader or gradient that confuses them shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            if is_layer_norm(name):
                p.add_(noise * (ln_weight if name.endswith(".weight") else ln_bias))
            elif name.endswith(".bias"):
                p.add_(noise * bias)


def is_layer_norm(name):
    return ".ln_" in f".{name}"


def decays(name, p):
    """hydra-dl's rule: parameters with >= 2 dims decay; biases and LayerNorm weights do not."""
    return p.dim() >= 2


def adamw(model, lr, betas, eps, weight_decay):
    params = list(model.named_parameters())
    groups = [{"params": [p for n, p in params if decays(n, p)], "weight_decay": weight_decay},
              {"params": [p for n, p in params if not decays(n, p)], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
