"""The BLOOM-style model: ALiBi, causality, tied embeddings, preset sizes."""
import pytest
import torch

from model.gpt import GPT, alibi_mask, alibi_slopes, flops_per_token, preset


def test_alibi_slopes_match_the_paper():
    assert alibi_slopes(8).tolist() == pytest.approx([2 ** -(i + 1) for i in range(8)])
    assert len(alibi_slopes(12)) == 12 and alibi_slopes(12)[8] == pytest.approx(2 ** -0.5)


def test_mask_is_causal_and_penalises_distance():
    m = alibi_mask(4, 5, torch.float32, torch.device("cpu"))
    assert torch.isinf(m[:, 0, 1:]).all() and (m[:, 1:, 0] < 0).all()
    assert m[0, 4, 0] == pytest.approx(-4 * 0.25) and (m.diagonal(dim1=1, dim2=2) == 0).all()


def test_future_tokens_do_not_change_past_logits_and_embeddings_are_tied():
    torch.manual_seed(0)
    model = GPT(preset("tiny", vocab_size=128, seq_len=16)).eval()
    x = torch.randint(0, 128, (2, 16))
    y = x.clone()
    y[:, 10:] = torch.randint(0, 128, (2, 6))
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(y)
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-5)
    assert not torch.allclose(a[:, 10:], b[:, 10:])
    assert sum(p.data_ptr() == model.wte.weight.data_ptr() for p in model.parameters()) == 1


def test_loss_ignores_masked_labels_and_runs_in_bf16():
    torch.manual_seed(0)
    model = GPT(preset("tiny", vocab_size=128, seq_len=8))
    x = torch.randint(0, 128, (2, 8))
    labels = torch.randint(0, 128, (2, 8))
    labels[:, 4:] = -100
    logits, loss = model(x, labels)
    manual = torch.nn.functional.cross_entropy(logits[:, :4].reshape(-1, 128), labels[:, :4].reshape(-1))
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(128.0)).item(), rel=0.2)
    _, bf = model.to(torch.bfloat16)(x, labels)
    assert torch.isfinite(bf) and bf.dtype == torch.float32


def test_bloom_560m_preset_has_bloom_shape():
    cfg = preset("560m", vocab_size=250880)
    with torch.device("meta"):
        n = GPT(cfg).num_params()
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head) == (24, 1024, 16)
    assert 555e6 < n < 565e6  # bloom-560m has 559.2M parameters
    assert flops_per_token(cfg, n) > 6 * n
    with pytest.raises(ValueError, match="unknown model preset"):
        preset("13b", vocab_size=100)


def test_flex_attention_matches_sdpa():
    torch.manual_seed(0)
    sdpa = GPT(preset("tiny", vocab_size=64, seq_len=32)).eval()
    flex = GPT(preset("tiny", vocab_size=64, seq_len=32, attention="flex")).eval()
    flex.load_state_dict(sdpa.state_dict())
    x = torch.randint(0, 64, (2, 32))
    with torch.no_grad():
        assert torch.allclose(sdpa(x)[0], flex(x)[0], atol=1e-4)


def test_compiling_in_place_keeps_checkpoint_names():
    """``--compile`` must not rename parameters, or a compiled run could not resume an uncompiled one."""
    model = GPT(preset("tiny", vocab_size=128, seq_len=16))
    names = list(model.state_dict())
    model.compile()
    assert list(model.state_dict()) == names and not any(n.startswith("_orig_mod") for n in names)
