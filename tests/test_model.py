"""The denoiser's exactness guarantees, over random shapes: vectorized == per-block loop (split and
full attention mask), KV cache == no cache (also after invalidation), L'=1 == AR, L'=L == MDLM,
cached == uncached sampling; a bf16 autocast path; and the bad-input errors.
`ARDM_TEST_DEVICE=cuda` runs the exactness tests on a GPU (scripts/gpu_check.sh)."""
import math, os
import pytest, torch
from hypothesis import given, settings, strategies as st

from ardm_nb.model import (ModelConfig, BlockDiffusionLM, KVCache, commit, denoise_step,
                           encode_prefix, block_diff_mask, compute_dtype)
from ardm_nb.block_diffusion import (nelbo_terms, per_block_loop_terms, ar_nll, sample_block_times,
                                     evaluate_nelbo)
from ardm_nb.noise import corrupt, NoiseConfig

FAST = settings(max_examples=15, deadline=None)
shapes = st.sampled_from([(8, 1), (8, 2), (8, 4), (8, 8), (12, 3), (12, 6), (16, 4)])  # (L, L')
DEV = torch.device(os.environ.get('ARDM_TEST_DEVICE', 'cpu'))  # the exactness tests run here


def gen(seed=0):
    "A generator on the test device (the model's random draws come from the device it runs on)."
    return torch.Generator(DEV).manual_seed(seed)


def ids(shape, seed, hi=16):
    return torch.randint(0, hi, shape, generator=gen(seed), device=DEV)


def model(L, Lb, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=17, max_len=L, block_size=Lb, d_model=16, n_layers=2, n_heads=2)
    return BlockDiffusionLM(cfg).to(dtype).to(DEV).eval()


def finite_close(a, b, tol):
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    assert torch.equal(fa, fb)
    assert (a[fa] - b[fb]).abs().max().item() < tol


@FAST
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_vectorized_equals_per_block_loop(shape, seed):
    L, Lb = shape
    lm = model(L, Lb, seed)
    x0 = ids((2, L), seed)
    with torch.no_grad():
        a = nelbo_terms(lm, x0, gen(seed))
        b = per_block_loop_terms(lm, x0, gen(seed))
    assert (a.per_token - b.per_token).abs().max().item() < 1e-10  # float64


@FAST
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_split_attention_equals_full_mask(shape, seed):
    L, Lb = shape
    lm = model(L, Lb, seed)
    x0 = ids((2, L), seed)
    xt = torch.where(torch.rand(2, L, generator=gen(seed + 1), device=DEV) < 0.5, 16, x0)
    with torch.no_grad():
        a = lm.denoise_vectorized(xt, x0, split=True)
        b = lm.denoise_vectorized(xt, x0, split=False)
    finite_close(a.logits, b.logits, 1e-10)
    assert (a.hidden - b.hidden).abs().max().item() < 1e-10


@FAST
@given(shape=shapes, seed=st.integers(0, 10_000), data=st.data())
def test_kv_cache_equals_uncached_and_survives_invalidation(shape, seed, data):
    L, Lb = shape
    lm = model(L, Lb, seed)
    x0 = ids((2, L), seed)
    xt = torch.where(torch.rand(2, L, generator=gen(seed + 1), device=DEV) < 0.5, 16, x0)
    with torch.no_grad():
        ref = lm.denoise_vectorized(xt, x0)
        cache = KVCache()
        for b in range(L // Lb):
            sl = slice(b * Lb, (b + 1) * Lb)
            finite_close(denoise_step(lm, xt[:, sl], cache).logits, ref.logits[:, sl], 1e-10)
            commit(lm, x0[:, sl], cache)
        pos = data.draw(st.integers(0, L - 1))
        x1 = x0.clone()
        x1[:, pos] = (x1[:, pos] + 1) % 16
        cache.truncate(pos, Lb)
        assert cache.length == pos // Lb * Lb
        encode_prefix(lm, x1[:, cache.length:L - Lb], cache)
        cached = denoise_step(lm, xt[:, L - Lb:], cache).logits
        finite_close(cached, lm.denoise_vectorized(xt, x1).logits[:, L - Lb:], 1e-10)


@FAST
@given(L=st.sampled_from([4, 6, 8]), seed=st.integers(0, 10_000))
def test_block_size_one_full_masking_is_ar(L, seed):
    lm = model(L, 1, seed)
    x0 = ids((2, L), seed)
    with torch.no_grad():
        t = nelbo_terms(lm, x0, gen(), beta=1.0, omega=1.0)
    assert (t.per_token - ar_nll(lm, x0)).abs().max().item() < 1e-10
    res = evaluate_nelbo(lm, [x0], gen())
    assert res['exact'] and abs(res['nelbo'] - ar_nll(lm, x0).mean().item()) < 1e-10


def test_block_size_L_is_mdlm():
    lm = model(8, 8)
    x0 = ids((3, 8), 0)
    xt = torch.where(torch.rand(3, 8, generator=gen(1), device=DEV) < .5, 16, x0)
    with torch.no_grad():
        finite_close(lm.denoise_vectorized(xt, x0).logits, lm.denoise(xt).logits, 1e-12)


@pytest.mark.parametrize('sampler', ['bd3', 'confidence'])
def test_cached_sampling_equals_uncached(sampler):
    from ardm_nb.samplers import sample
    lm = model(16, 4, dtype=torch.float32)
    def run(cache):
        return sample(lm, length=16, sampler=sampler, generator=gen(3), batch_size=3,
                      use_cache=cache)
    a, b = run(True), run(False)
    assert torch.equal(a.tokens, b.tokens) and a.nfe == b.nfe


def test_bf16_autocast_training_and_cached_sampling():
    # the autocast path: a training step runs in bf16 with a float32 loss, the cache stores bf16
    # keys, and cached logits match uncached ones to bf16 precision
    lm = model(16, 4, dtype=torch.float32)
    x0 = ids((2, 16), 0)
    with torch.autocast(DEV.type, dtype=torch.bfloat16):
        loss = nelbo_terms(lm, x0, gen()).loss
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in lm.parameters() if p.grad is not None)
        assert compute_dtype(lm.net.embed.weight) == torch.bfloat16
        with torch.no_grad():
            xt = torch.where(torch.rand(2, 16, generator=gen(1), device=DEV) < .5, 16, x0)
            ref = lm.denoise_vectorized(xt, x0)
            cache = KVCache()
            step = denoise_step(lm, xt[:, :4], cache)
            commit(lm, x0[:, :4], cache)
            step = denoise_step(lm, xt[:, 4:8], cache)
            assert cache.k[0].dtype == torch.bfloat16
            finite_close(step.logits.float(), ref.logits[:, 4:8].float(), 0.1)
    assert compute_dtype(lm.net.embed.weight) == torch.float32  # autocast off again


def test_block_diff_mask_counts():
    # L = 6, L' = 2 by hand: x_t rows see 2 (own block) + 2b clean; x_0 rows see 2(b + 1) clean
    m = block_diff_mask(6, 2)
    assert m.sum(1).tolist() == [2, 2, 4, 4, 6, 6, 2, 2, 4, 4, 6, 6]


ZEROS6 = torch.zeros(1, 6, dtype=torch.long)

@pytest.mark.parametrize('call, msg', [
    (lambda lm: lm.denoise(torch.full((1, 9), 3)), 'sequence length 9 exceeds'),
    (lambda lm: lm.denoise(torch.full((1, 4), 17)), 'outside the vocabulary [0, 16]'),
    (lambda lm: lm.denoise(torch.full((1, 4), -1)), 'outside the vocabulary [0, 16]'),
    (lambda lm: lm.denoise_vectorized(ZEROS6, ZEROS6), 'must be a multiple of block_size=4'),
    (lambda lm: block_diff_mask(8, 3), 'block_size=3 must divide seq_len=8'),
    (lambda lm: ModelConfig(vocab_size=17, max_len=8, block_size=3),
     'block_size=3 must divide max_len=8'),
    (lambda lm: corrupt(torch.zeros(1, 4, dtype=torch.long), torch.tensor(-0.1), NoiseConfig(),
                        16, 17, torch.Generator()), 'noise level must lie in [0, 1]'),
    (lambda lm: sample_block_times(1, 2, 0.9, 0.1, torch.Generator()),
     'beta=0.9 must not exceed omega=0.1'),
])
def test_bad_input(call, msg):
    with pytest.raises(ValueError) as e:
        call(model(8, 4).cpu())
    assert msg in str(e.value)
