"""Llama in plain PyTorch (no transformers), parameter for parameter the model hydra-dl builds — and Hugging Face's
LlamaForCausalLM computation: RMSNorm (x * rsqrt(mean(x^2) + eps) * w), rotary embeddings with HF's rotate_half and
its float32 table (inv_freq = 1 / theta ** (arange(0, hs, 2) / hs), angles t * inv_freq, cos/sin), grouped-query
attention (query head h reads kv head h // (n_head / n_kv_head)), SwiGLU MLP down(silu(gate(x)) * up(x)), no biases.

Parameter names are HF's without the `model.` prefix plus `lm_head.weight` (only when untied), with nn.Linear's
(out, in) layout: embed_tokens.weight (V,C), layers.{i}.input_layernorm.weight (C), layers.{i}.self_attn.
{q,k,v,o}_proj.weight, layers.{i}.post_attention_layernorm.weight, layers.{i}.mlp.{gate,up,down}_proj.weight,
norm.weight. Config: hydra-dl's LlamaConfig {n_layer, n_head, n_kv_head, n_embd, head_dim, intermediate_size, n_ctx,
vocab_size, rope_theta, rms_norm_eps, tie}."""
import math

import torch
import torch.nn.functional as F
from torch import nn


class RmsNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_table(T, hs, theta, dtype):
    """HF's LlamaRotaryEmbedding in float32, then cast: cos and sin (T, hs) with the two halves equal."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs))
    freqs = torch.outer(torch.arange(T, dtype=torch.int64).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, NH, NKV, hs = cfg["n_embd"], cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
        self.q_proj = nn.Linear(C, NH * hs, bias=False)
        self.k_proj = nn.Linear(C, NKV * hs, bias=False)
        self.v_proj = nn.Linear(C, NKV * hs, bias=False)
        self.o_proj = nn.Linear(NH * hs, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        NH, NKV, hs = self.cfg["n_head"], self.cfg["n_kv_head"], self.cfg["head_dim"]
        q = self.q_proj(x).view(B, T, NH, hs).transpose(1, 2)
        k = self.k_proj(x).view(B, T, NKV, hs).transpose(1, 2)
        v = self.v_proj(x).view(B, T, NKV, hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = NH // NKV
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, NH * hs)
        return self.o_proj(y)


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, I = cfg["n_embd"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(C, I, bias=False)
        self.up_proj = nn.Linear(C, I, bias=False)
        self.down_proj = nn.Linear(I, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RmsNorm(cfg["n_embd"], cfg["rms_norm_eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RmsNorm(cfg["n_embd"], cfg["rms_norm_eps"])
        self.mlp = Mlp(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg["n_head"] % cfg["n_kv_head"]:
            raise ValueError("n_head must be a multiple of n_kv_head")
        self.cfg = dict(cfg)
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg["n_layer"]))
        self.norm = RmsNorm(cfg["n_embd"], cfg["rms_norm_eps"])
        self.lm_head = None if cfg["tie"] else nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)

    def forward(self, tokens):
        B, T = tokens.shape
        if T > self.cfg["n_ctx"]:
            raise ValueError(f"sequence length {T} exceeds n_ctx={self.cfg['n_ctx']}")
        dtype = self.embed_tokens.weight.dtype
        cos, sin = rope_table(T, self.cfg["head_dim"], self.cfg["rope_theta"], dtype)
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin)
        x = self.norm(x)
        head = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return x @ head.t()

    def loss(self, tokens, targets):
        logits = self(tokens)
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def llama_init_(model, generator, std=0.02):
    """HF's init: every Linear and the embedding normal(0, std); RMSNorm weights 1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name == "norm.weight":
                p.fill_(1.0)
            else:
                p.normal_(0.0, std, generator=generator)


def perturb_norms_(model, generator, scale=0.1):
    """RMSNorm weights += scale * N(0,1), so a loader or gradient that confuses them shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name == "norm.weight":
                p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * scale)


def hf_config(cfg):
    """What LlamaConfig(...).save_pretrained writes (transformers 4.4x), for these fields."""
    return {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "head_dim": cfg["head_dim"], "hidden_act": "silu",
        "hidden_size": cfg["n_embd"], "initializer_range": 0.02, "intermediate_size": cfg["intermediate_size"],
        "max_position_embeddings": cfg["n_ctx"], "mlp_bias": False, "model_type": "llama",
        "num_attention_heads": cfg["n_head"], "num_hidden_layers": cfg["n_layer"],
        "num_key_value_heads": cfg["n_kv_head"], "pretraining_tp": 1, "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_scaling": None, "rope_theta": cfg["rope_theta"], "tie_word_embeddings": cfg["tie"],
        "torch_dtype": "float32", "transformers_version": "4.46.0", "use_cache": True,
        "vocab_size": cfg["vocab_size"],
    }


def hf_state(params):
    """{HF name: array}: `model.` prefix on everything but lm_head.weight."""
    return {(n if n == "lm_head.weight" else f"model.{n}"): a for n, a in params.items()}
