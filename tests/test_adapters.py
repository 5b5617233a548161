"""Bring your own model: `ardm_nb.adapters.wrap` on tiny randomly initialised BERT and ModernBERT
masked LMs built from configs (nothing downloads), every kind of sampler on them, and
`causal_lm_nll` with a GPT-2 judge."""
import math

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel
from transformers import ModernBertConfig, ModernBertForMaskedLM
from transformers.utils import logging as hf_logging

from ardm_nb.adapters import MaskedLMDenoiser, causal_lm_nll, char_tokenizer, wrap
from ardm_nb.gate import GateConfig, OverwriteGate
from ardm_nb.samplers import SAMPLERS, WindowDenoiser, sample

hf_logging.set_verbosity_error()
L = 16  # the wrapped length: one window of 16 tokens
TEXT = 'the quick brown fox jumps over the lazy dog.\nTHE QUICK BROWN FOX!'


@pytest.fixture(scope='module')
def tok():
    return char_tokenizer([TEXT])  # 5 specials + the characters: about 40 ids


def _tiny(tok, extra_rows: int = 0) -> dict:
    return dict(vocab_size=len(tok) + extra_rows, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)


@pytest.fixture(scope='module')
def bert(tok):
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(**_tiny(tok, extra_rows=3)))  # 3 output rows no token uses


@pytest.fixture(scope='module')
def modern(tok):
    torch.manual_seed(1)
    cfg = ModernBertConfig(**_tiny(tok), pad_token_id=0, cls_token_id=2, bos_token_id=2,
                           sep_token_id=3, eos_token_id=3, mask_token_id=tok.mask_token_id)
    return ModernBertForMaskedLM(cfg)


@pytest.fixture(scope='module', params=['bert', 'modern'])
def den(request, tok, bert, modern) -> MaskedLMDenoiser:
    if request.param == 'bert': return wrap(bert, tok, length=L)
    return wrap(modern, length=L)  # MASK id from the config alone


def _text_row(tok, n: int = L) -> torch.Tensor:  # [1, n]: [CLS] characters [SEP]
    ids = tok(TEXT[:n - 2]).input_ids
    assert len(ids) == n
    return torch.tensor([ids])


def test_protocol_and_shapes(den, tok):
    assert isinstance(den, WindowDenoiser)
    assert den.block_size == den.max_len == L
    assert den.mask_id == tok.mask_token_id and den.hidden_dim == 32
    x = _text_row(tok).repeat(2, 1)
    logits, hidden = den.window(x, 0, L)
    assert logits.shape == (2, L, den.vocab_size) and logits.dtype == torch.float32
    assert hidden.shape == (2, L, 32)
    assert torch.isinf(logits[..., den.forbid]).all() and (logits[..., den.forbid] < 0).all()


def test_logits_and_hidden_are_the_models_own(tok, bert, modern):
    x = _text_row(tok)
    x[0, 3:6] = tok.mask_token_id
    for model, base in ((bert, bert.bert), (modern, modern.model)):
        den = wrap(model, tok, length=L)
        logits, hidden = den.window(x, 0, L)
        with torch.no_grad():
            ref = model(input_ids=x).logits
            ref_h = base(input_ids=x).last_hidden_state  # what the head reads (after final_norm)
        keep = torch.ones(den.vocab_size, dtype=torch.bool)
        keep[den.forbid] = False
        torch.testing.assert_close(logits[..., keep], ref[..., keep])
        torch.testing.assert_close(hidden, ref_h)


def test_forbidden_ids(tok, bert, modern):
    # with a tokenizer: its special ids (PAD UNK CLS SEP MASK = 0..4) and the 3 unused output rows
    V = len(tok)
    assert wrap(bert, tok, length=L).forbid.tolist() == [0, 1, 2, 3, 4, V, V + 1, V + 2]
    # from the config only: PAD, CLS/BOS, SEP/EOS, MASK
    assert wrap(modern, length=L).forbid.tolist() == [0, 2, 3, 4]
    assert wrap(bert, tok, length=L, forbid_special=False).forbid.tolist() == [4]


def test_calls_counted_and_repeats_skipped(tok, bert):
    den = wrap(bert, tok, length=L)
    gen = torch.Generator().manual_seed(0)
    res = sample(den, length=L, sampler='confidence', steps=4, batch_size=2, generator=gen)
    assert res.nfe == den.calls == 4


@pytest.mark.parametrize('sampler', ['gate', 'fixed', 'position', 'mdlm', 'confidence', 'bd3',
                                     'threshold', 'remdm'])
def test_samplers_run_with_honest_nfe(den, tok, sampler):
    prompt = _text_row(tok)[:, :4].repeat(2, 1)  # [CLS] + 3 characters, held fixed
    before = den.calls
    gen = torch.Generator().manual_seed(0)
    res = sample(den, prompt, length=L, sampler=sampler, steps=4, generator=gen)
    assert res.nfe == den.calls - before and 1 <= res.nfe <= 4
    assert torch.equal(res.tokens[:, :4], prompt)
    assert not (res.tokens == den.mask_id).any()
    assert not torch.isin(res.tokens[:, 4:], den.forbid).any()  # no special token written


def test_same_seed_same_output(den, tok):
    prompt = _text_row(tok)[:, :4]
    a, b = (sample(den, prompt, length=L, sampler='gate', steps=4,
                   generator=torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a.tokens, b.tokens) and a.nfe == b.nfe


def test_repair_keeps_fixed_positions(den, tok):
    """Repair a given text: only the editable positions may change; infill MASKs are all written."""
    x = _text_row(tok).repeat(2, 1)
    x[:, 5] = tok.mask_token_id
    editable = torch.zeros_like(x, dtype=torch.bool)
    editable[:, 4:12] = True
    res = sample(den, length=L, infill=x, editable=editable, sampler='gate', steps=4,
                 generator=torch.Generator().manual_seed(0))
    assert torch.equal(res.tokens[~editable], x[~editable])
    assert not (res.tokens == den.mask_id).any()


def test_mlp_gate_reads_hidden_states(tok, bert):
    den = wrap(bert, tok, length=L)
    gate = OverwriteGate(GateConfig(kind='mlp', hidden_dim=den.hidden_dim))
    res = sample(den, _text_row(tok)[:, :4], length=L, sampler='gate', gate=gate, steps=4,
                 generator=torch.Generator().manual_seed(0))
    assert not (res.tokens == den.mask_id).any()
    no_h = wrap(bert, tok, length=L, hidden_states=False)
    assert no_h.hidden_dim == 0 and no_h.window(_text_row(tok), 0, L)[1] is None
    with pytest.raises(ValueError, match='gives none'):
        sample(no_h, length=L, sampler='gate', gate=gate, steps=4, generator=torch.Generator())


def test_block_samplers_run_as_one_window(tok, bert):
    """A bidirectional model has one block: block samplers run as one block of the whole length;
    l2r and other lengths say why not."""
    den = wrap(bert, tok, length=L)
    res = sample(den, length=L, sampler='bd3', steps=4, generator=torch.Generator().manual_seed(0))
    assert res.nfe == 4 and not (res.tokens == den.mask_id).any()
    with pytest.raises(ValueError, match='one window over the whole sequence'):
        sample(den, length=L, sampler='l2r', generator=torch.Generator())
    msg = f'sample with length={L}, or wrap it with length={L // 2}'
    with pytest.raises(ValueError, match=msg):
        sample(den, length=L // 2, sampler='mdlm', generator=torch.Generator())
    with pytest.raises(ValueError, match=f'wrap it with length={L}'):
        wrap(bert, tok, length=L // 2).window(_text_row(tok), 0, L)


def test_every_sampler_but_l2r_runs(tok, bert):
    den = wrap(bert, tok, length=L)
    for name in SAMPLERS:
        if name == 'l2r': continue
        gen = torch.Generator().manual_seed(0)
        res = sample(den, length=L, sampler=name, nfe_budget=8, generator=gen)
        assert res.nfe <= 8 and not (res.tokens == den.mask_id).any(), name


def test_wrap_bad_input(tok, bert):
    with pytest.raises(ValueError, match='no MASK token'):
        wrap(bert)  # BERT's config has no mask_token_id
    with pytest.raises(ValueError, match='length=65'):
        wrap(bert, tok, length=65)  # over max_position_embeddings=64
    with pytest.raises(ValueError, match='length=0'):
        wrap(bert, tok, length=0)
    with pytest.raises(ValueError, match='mask_id=999'):
        wrap(bert, tok, mask_id=999)
    with pytest.raises(TypeError, match='PreTrainedModel'):
        wrap(torch.nn.Linear(2, 2))
    gpt_cfg = GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=64)
    gpt = GPT2LMHeadModel(gpt_cfg)
    with pytest.raises(TypeError, match='causal_lm_nll'):
        wrap(gpt, tok)
    wide = char_tokenizer([TEXT + '0123456789@#$%^&*()[]{}<>~`|'])
    with pytest.raises(ValueError, match='do not belong together'):
        wrap(BertForMaskedLM(BertConfig(**_tiny(tok))), wide, length=L)


def test_char_tokenizer_round_trip():
    tok = char_tokenizer(['hello, world\n'])
    ids = tok('hello\nworld').input_ids
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id and len(ids) == 13
    assert tok.decode(ids, skip_special_tokens=True) == 'hello\nworld'
    assert tok('z', add_special_tokens=False).input_ids == [tok.unk_token_id]


@pytest.fixture(scope='module')
def judge():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=2, n_positions=32,
                                      bos_token_id=0, eos_token_id=0)).eval()


def _slow_nll(model, row):  # one pass per prefix: the definition itself
    with torch.no_grad():
        lp = [model(input_ids=row[None, :i]).logits[0, -1].log_softmax(-1)[row[i]]
              for i in range(1, len(row))]
    return -torch.stack(lp).mean()


def test_causal_lm_nll_matches_the_definition(judge):
    ids = torch.randint(0, 50, (5, 10), generator=torch.Generator().manual_seed(0))
    got = causal_lm_nll(judge, ids, batch_size=2)
    assert got.shape == (5,)
    want = torch.stack([_slow_nll(judge, r) for r in ids])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_causal_lm_nll_uniform_judge_is_log_v(judge):
    flat = GPT2LMHeadModel(judge.config)
    with torch.no_grad(): flat.lm_head.weight.zero_()  # tied embedding: every logit is 0
    ids = torch.randint(0, 50, (3, 8), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(causal_lm_nll(flat, ids), torch.full((3,), math.log(50)))


def test_causal_lm_nll_padding_either_side(judge):
    row = torch.randint(0, 50, (6,), generator=torch.Generator().manual_seed(2))
    want = _slow_nll(judge, row)
    pad = torch.zeros(4, dtype=torch.long)
    ids = torch.stack([torch.cat([pad, row]), torch.cat([row, pad])])
    mask = torch.tensor([[0] * 4 + [1] * 6, [1] * 6 + [0] * 4])
    got = causal_lm_nll(judge, ids, mask)
    torch.testing.assert_close(got, want.repeat(2), atol=1e-5, rtol=1e-5)


def test_causal_lm_nll_bad_input(judge):
    ids = torch.randint(0, 50, (2, 8))
    with pytest.raises(ValueError, match=r'\[n, L\]'): causal_lm_nll(judge, ids[0])
    with pytest.raises(ValueError, match="judge's vocabulary"): causal_lm_nll(judge, ids + 50)
    with pytest.raises(ValueError, match='32 positions'):
        causal_lm_nll(judge, torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match='attention_mask has shape'):
        causal_lm_nll(judge, ids, torch.ones(2, 7))
    with pytest.raises(ValueError, match=r'rows \[1\]'):
        causal_lm_nll(judge, ids, torch.tensor([[1] * 8, [0] * 7 + [1]]))


def test_pad_is_not_attended(tok, bert):
    """Right-padded rows: every real position gets the logits of the unpadded row."""
    den = wrap(bert, tok, length=L)
    short = _text_row(tok, 10)  # [1, 10]
    padded = torch.cat([short, torch.full((1, L - 10), tok.pad_token_id)], 1)
    logits, _ = den.window(padded, 0, L)
    with torch.no_grad(): want = bert(input_ids=short).logits
    keep = torch.ones(den.vocab_size, dtype=torch.bool)
    keep[den.forbid] = False
    torch.testing.assert_close(logits[:, :10][..., keep], want[..., keep], atol=1e-5, rtol=1e-5)


def test_roberta_style_positions(tok):
    "RoBERTa's position ids start at PAD + 1 (here PAD = 0): 17 rows of the table cover 16 tokens."
    from transformers import RobertaConfig, RobertaForMaskedLM
    torch.manual_seed(2)
    cfg = RobertaConfig(**{**_tiny(tok), 'max_position_embeddings': L + 1}, pad_token_id=0)
    den = wrap(RobertaForMaskedLM(cfg), tok)
    assert den.length == L
    res = sample(den, length=L, sampler='gate', steps=4, generator=torch.Generator().manual_seed(0))
    assert res.nfe == den.calls and not (res.tokens == den.mask_id).any()
    with pytest.raises(ValueError, match=f'length={L + 1}'):
        wrap(RobertaForMaskedLM(cfg), tok, length=L + 1)
