"""A BLOOM-style decoder-only transformer in plain PyTorch.

BLOOM's choices, each kept for its reason: ALiBi instead of position embeddings (extrapolates
past the training length), a layer norm right after the embeddings (stabilises bf16 training at
scale), pre-norm blocks with a GeLU MLP, and input/output embeddings tied (the vocabulary is large
and multilingual, so this saves the biggest matrix). Attention goes through
``scaled_dot_product_attention`` with the ALiBi bias plus the causal mask as ``attn_mask``, so
fused kernels run on GPU. Layer norms and the softmax run in float32 under autocast/bf16.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PRESETS = Path(__file__).parent / "configs" / "models.json"


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    n_layer: int
    n_embd: int
    n_head: int
    seq_len: int
    dropout: float = 0.0
    init_std: float = 0.02
    attention: str = "sdpa"  # or "flex": FlexAttention with ALiBi as a score_mod, compiled on GPU

    def to_dict(self) -> dict:
        return asdict(self)


def preset(name: str, vocab_size: int, **overrides) -> GPTConfig:
    """A named size from ``configs/models.json``; the vocabulary always comes from the tokenizer."""
    presets = json.loads(PRESETS.read_text())
    if overrides.get("attention") not in (None, "sdpa", "flex"):
        raise ValueError(f"attention must be 'sdpa' or 'flex', not {overrides['attention']!r}")
    if name not in presets:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(presets)}")
    fields = {**presets[name], **{k: v for k, v in overrides.items() if v is not None}}
    return GPTConfig(vocab_size=vocab_size, **fields)


def alibi_slopes(n_head: int) -> torch.Tensor:
    """Per-head slopes of the ALiBi paper, including its rule for head counts not a power of two."""
    def powers(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]

    closest = 2 ** math.floor(math.log2(n_head))
    slopes = powers(closest)
    if closest < n_head:
        slopes += powers(2 * closest)[0::2][: n_head - closest]
    return torch.tensor(slopes)


def alibi_mask(n_head: int, length: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(heads, T, T) additive attention mask: ALiBi's distance penalty, and -inf above the diagonal."""
    pos = torch.arange(length, device=device)
    distance = (pos[None, :] - pos[:, None]).float()  # key minus query: <= 0 on and below the diagonal
    bias = alibi_slopes(n_head).to(device)[:, None, None] * distance[None]
    bias = bias.masked_fill(distance[None] > 0, float("-inf"))
    return bias.to(dtype)


@functools.cache
def _flex_kernel(device_type: str):
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False) if device_type == "cuda" else flex_attention


@functools.lru_cache(maxsize=8)
def _causal_blocks(length: int, device: torch.device):
    from torch.nn.attention.flex_attention import create_block_mask

    return create_block_mask(lambda b, h, q, kv: q >= kv, None, None, length, length, device=device)


def flex_alibi(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, slopes: torch.Tensor) -> torch.Tensor:
    """ALiBi attention without a T×T mask in memory: the bias is added inside the fused kernel,
    and blocks above the diagonal are skipped."""
    def alibi(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    return _flex_kernel(q.device.type)(q, k, v, score_mod=alibi, block_mask=_causal_blocks(q.shape[2], q.device))


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.flex = cfg.attention == "flex"
        self.register_buffer("slopes", alibi_slopes(cfg.n_head), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        if self.flex:
            y = flex_alibi(q, k, v, self.slopes.float())  # type: ignore[arg-type]
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype),  # type: ignore[union-attr]
                                               dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x), mask))
        return x + self.drop(self.mlp(self.ln_2(x)))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.ln_emb = nn.LayerNorm(cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=cfg.init_std / math.sqrt(2 * cfg.n_layer))

    def _init(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=self.cfg.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, idx: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits, and the mean cross-entropy over labels that are not -100 when labels are given."""
        T = idx.shape[1]
        x = self.ln_emb(self.wte(idx))
        mask = None if self.cfg.attention == "flex" else alibi_mask(self.cfg.n_head, T, x.dtype, idx.device)
        for block in self.blocks:
            x = block(x, mask)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied output embedding
        if labels is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
        return logits, loss

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def flops_per_token(cfg: GPTConfig, n_params: int) -> float:
    """Training FLOPs per token: 6N for the matrices plus attention's 12·L·H·T (PaLM appendix B)."""
    return 6 * n_params + 12 * cfg.n_layer * cfg.n_embd * cfg.seq_len
