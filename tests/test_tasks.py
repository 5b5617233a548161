"""Tasks: the markov-words chain and its oracle against brute-force enumeration (both noises), exact
sampling with one token per pass, every sampler on the oracle, Sudoku's solver and puzzles, the
Shakespeare tasks, and bad input."""
import itertools, math

import pytest
import torch

from ardm_nb.samplers import SAMPLERS, WindowDenoiser, sample
from ardm_nb.tasks import (TASKS, MarkovWords, MarkovWordsConfig, Sudoku, SudokuConfig,
                           ShakespeareConfig, ShakespeareChar, ShakespeareBPE, CharTokenizer,
                           SHAKESPEARE_CHARS, get_task, make_puzzle, solve_sudoku)

pytestmark = pytest.mark.usefixtures('one_thread')  # the fixture is in conftest.py
gen = lambda seed=0: torch.Generator().manual_seed(seed)
FLOOR = 1e-6


# ------------------------------------------------------ brute force, written from the definitions

def tiny_task(seed=1, seq_len=6, successors=2):
    cfg = MarkovWordsConfig(n_words=4, n_first=2, n_second=2, successors=successors,
                            seq_len=seq_len, seed=seed)
    return MarkovWords(cfg)


def all_rows(t):
    "Every row the chain can produce with its probability pi(w1) prod P(w_k, w_k+1)."
    L = t.seq_len
    n_words = (L - 1 + 1) // 2  # whole words plus the partial last one
    for ws in itertools.product(range(t.cfg.n_words), repeat=n_words):
        p = float(t.pi[ws[0]])
        for a, b in zip(ws, ws[1:]): p *= float(t.P[a, b])
        if p == 0: continue
        row = [t.bos_id]
        for w in ws: row += [int(t.first[w]), int(t.second[w])]
        yield tuple(row[:L]), p


def row_table(t):
    "{row: probability}, rows that differ only in an unseen last word merged."
    out = {}
    for x, p in all_rows(t): out[x] = out.get(x, 0.0) + p
    return out


def lik(x, y, e, V):
    "Pr(y | x) under eps-hybrid noise with eps = e (absorbing when e = 0)."
    return (1 - e) * (x == y) + e / (V - 1)


def brute_window(t, y, start, end, Lb, eps):
    "Marginals [end - start, V] of each block: clean prefix, noisy block, the floor if impossible."
    V, M = t.vocab_size, t.mask_id
    rows = row_table(t)
    out = torch.zeros(end - start, V, dtype=torch.float64)
    fell = 0
    for j0 in range(start, end, Lb):
        for e_clean, e_block in ((0.0, eps), (FLOOR, max(eps, FLOOR))):
            acc = torch.zeros(Lb, V, dtype=torch.float64)
            for x, p in rows.items():
                w = p
                for i in range(1, j0 + Lb):
                    if y[i] != M: w *= lik(x[i], y[i], e_clean if i < j0 else e_block, V)
                for i in range(j0, j0 + Lb): acc[i - j0, x[i]] += w
            if acc.sum() > 0: break
            fell += 1
        out[j0 - start:j0 - start + Lb] = acc / acc.sum(-1, keepdim=True)
    return out, fell


def observations(t, n, seed, swap=True):
    "Rows of the chain, ~40% masked, and (swap) one token of some rows replaced by another."
    g = gen(seed)
    x = t.sample(n, g)
    y = torch.where(torch.rand(x.shape, generator=g) < 0.4, t.mask_id, x)
    if swap:
        i = torch.randint(1, t.seq_len, (n,), generator=g)
        other = 1 + (y[torch.arange(n), i] % (t.mask_id - 1))  # a different ordinary token
        keep = torch.rand(n, generator=g) < 0.5
        y[torch.arange(n), i] = torch.where(keep, y[torch.arange(n), i], other)
    return y


# ---------------------------------------------------------------- the chain

def test_log_likelihood_sums_to_one_and_matches_enumeration():
    t = tiny_task(seq_len=7)
    rows = row_table(t)
    x = torch.tensor(list(rows))
    ll = t.log_likelihood(x)
    torch.testing.assert_close(ll.exp(), torch.tensor(list(rows.values()), dtype=torch.float64))
    assert abs(ll.exp().sum() - 1) < 1e-12
    masked = x[:5].clone()
    masked[:, [2, 5]] = t.mask_id  # a marginal: the sum over every row that agrees elsewhere
    for m in masked:
        agree = lambda r: all(a == b or b == t.mask_id for a, b in zip(r, m.tolist()))
        want = sum(p for r, p in rows.items() if agree(r))
        assert abs(t.log_likelihood(m[None]).exp().item() - want) < 1e-12
    bad = x[:1].clone()
    bad[0, 0] = 1  # no BOS
    assert t.log_likelihood(bad).item() == -math.inf


@pytest.mark.parametrize('seq_len', [6, 7])
def test_entropy_per_token_is_the_entropy_of_a_row(seq_len):
    t = tiny_task(seq_len=seq_len, successors=3)
    H = -sum(p * math.log(p) for p in row_table(t).values())
    assert abs(t.entropy_per_token - H / (seq_len - 1)) < 1e-12


def test_sampled_rows_have_the_chain_s_statistics():
    t = tiny_task(seq_len=5)
    rows = row_table(t)
    n = 20000
    x = t.sample(n, gen(0))
    counts = {}
    for r in map(tuple, x.tolist()): counts[r] = counts.get(r, 0) + 1
    assert set(counts) <= set(rows)
    for r, p in rows.items():  # every row's frequency within 4.5 standard errors of its probability
        assert abs(counts.get(r, 0) / n - p) < 4.5 * math.sqrt(p * (1 - p) / n)


def test_score_worked_by_hand():
    t = MarkovWords(MarkovWordsConfig(n_words=4, n_first=2, n_second=4, successors=1, seq_len=7))
    # words: w -> (1 + w // 2, 3 + w % 4): (1,3) (1,4) (2,5) (2,6); pairs like (1,5) are no word
    nxt = [int(t.P[w].argmax()) for w in range(4)]
    w0, w1, w2 = 0, nxt[0], nxt[nxt[0]]
    good = [0] + [int(tok[w]) for w in (w0, w1, w2) for tok in (t.first, t.second)]
    broken = list(good)
    broken[2] = 5 if good[1] == 1 else 3  # a second token no word of this first token ends with
    s = t.score(torch.tensor([good, broken]))
    torch.testing.assert_close(s['invalid_word_rate'], torch.tensor([0.0, 1 / 3]))
    # only pairs of two words count as transitions
    torch.testing.assert_close(s['invalid_transition_rate'], torch.tensor([0.0, 0.0]))
    torch.testing.assert_close(s['valid_row'], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(s['distinct_words'], torch.tensor([3.0, 2.0]))
    assert s['nll_per_token'][1] == math.inf
    assert abs(s['nll_per_token'][0].item() - math.log(4) / 6) < 1e-6  # pi = 1/4, then certain


# ---------------------------------------------------------------- the oracle

@pytest.mark.parametrize('noise,eps',
                         [('absorbing', 0.0), ('eps_hybrid', 0.2), ('eps_hybrid', 0.01)])
def test_oracle_window_matches_brute_force(noise, eps):
    fell = 0
    for seed, seq_len in ((1, 6), (2, 7)):
        t = tiny_task(seed=seed, seq_len=seq_len)
        y = observations(t, 8, seed)
        L = seq_len
        windows = [(Lb, s, e) for Lb in range(1, L + 1) if L % Lb == 0 for s in range(0, L, Lb)
                   for e in range(s + Lb, L + 1, Lb)]
        for Lb, start, end in windows:
            o = t.oracle(Lb, noise, eps)
            assert isinstance(o, WindowDenoiser)
            logits, hidden = o.window(y, start, end)
            assert hidden is None and logits.dtype == torch.float32
            assert logits.shape == (8, end - start, t.vocab_size)
            got = logits.double().exp()
            for r in range(8):
                want, f = brute_window(t, y[r].tolist(), start, end, Lb, eps)
                fell += f
                torch.testing.assert_close(got[r], want, atol=1e-6, rtol=0)
    if noise == 'absorbing': assert fell > 0  # the floor answered some observations, checked too


@pytest.mark.parametrize('noise,eps', [('absorbing', 0.0), ('eps_hybrid', 0.3)])
def test_posterior_is_the_whole_row_window(noise, eps):
    t = tiny_task(seq_len=7)
    y = observations(t, 6, 5)
    o = t.oracle(1, noise, eps)
    post = o.posterior(y)
    assert post.shape == (6, 7, t.vocab_size) and post.dtype == torch.float64
    for r in range(6):
        want, _ = brute_window(t, y[r].tolist(), 0, 7, 7, eps)
        torch.testing.assert_close(post[r], want, atol=1e-9, rtol=0)
    assert (post[..., t.mask_id] == 0).all()


def test_eps_hybrid_tends_to_absorbing_and_judges_a_swapped_token():
    t = MarkovWords()
    x = t.sample(16, gen(3))
    y = torch.where(torch.rand(x.shape, generator=gen(4)) < 0.5, t.mask_id, x)
    a = t.oracle(64, 'absorbing').posterior(y)
    e = t.oracle(64, 'eps_hybrid', eps=1e-9).posterior(y)
    torch.testing.assert_close(a, e, atol=1e-6, rtol=0)
    # a visible token that makes the row impossible: eps-hybrid doubts it
    full = x.clone()
    other = torch.where(full[:, 2] == t.mask_id - 1, t.mask_id - 2, t.mask_id - 1)
    full[:, 2] = other  # another second token
    bad = torch.isinf(t.log_likelihood(full))
    p = t.oracle(64, 'eps_hybrid', eps=0.1).posterior(full)[bad, 2].gather(-1, full[bad, 2:3])
    assert bad.any() and (p < 0.99).all()
    q = t.oracle(64, 'eps_hybrid', eps=0.1).posterior(x)[:, 2].gather(-1, x[:, 2:3])  # unswapped
    assert (q > 0.99).all()


def counting(o):
    "The oracle with a counter on `window`."
    calls = []
    inner = o.window
    def window(x, s, e):
        calls.append((s, e))
        return inner(x, s, e)
    o.window = window
    return o, calls


@pytest.mark.parametrize('noise', ['absorbing', 'eps_hybrid'])
def test_every_sampler_runs_on_the_oracle(noise):
    t = MarkovWords(MarkovWordsConfig(seq_len=32))
    bos = torch.zeros(4, 1, dtype=torch.long)
    for name in SAMPLERS:
        o, calls = counting(t.oracle(1 if name == 'l2r' else 8, noise))
        budget = None if name == 'l2r' else 8
        r = sample(o, bos, length=32, sampler=name, generator=gen(1), nfe_budget=budget)
        assert not (r.tokens == t.mask_id).any() and (r.tokens[:, 0] == t.bos_id).all()
        assert r.nfe == len(calls) and r.nfe <= (budget or 31)
        again = sample(t.oracle(1 if name == 'l2r' else 8, noise), bos, length=32, sampler=name,
                       generator=gen(1), nfe_budget=budget)
        assert torch.equal(again.tokens, r.tokens)


@pytest.mark.parametrize('sampler,Lb,steps', [('mdlm', 16, 16), ('l2r', 1, None)])
def test_one_token_per_pass_samples_the_chain_exactly(sampler, Lb, steps):
    """One reveal per pass from the absorbing oracle, no truncation, in an order that does not look
    at the values (MDLM's random order; left to right): every row is a sample of the chain, so no
    word is invalid and the mean NLL per token is the row entropy within its 95% interval."""
    t = MarkovWords()
    n = 256
    bos = torch.zeros(n, 1, dtype=torch.long)
    r = sample(t.oracle(Lb), bos, length=64, sampler=sampler, steps=steps, top_p=1.0,
               generator=gen(0))
    assert r.nfe == 63
    s = t.score(r.tokens)
    assert s['invalid_word_rate'].sum() == 0 and s['valid_row'].min() == 1
    nll = s['nll_per_token'].double()
    half = 1.96 * nll.std() / math.sqrt(n)
    assert abs(nll.mean() - t.entropy_per_token) < half, (float(nll.mean()), float(half))


def test_the_exactness_test_can_fail():
    "Two inexact samplers fail it: 16 tokens of a block in one pass, and nucleus truncation."
    t = MarkovWords()
    n = 256
    bos = torch.zeros(n, 1, dtype=torch.long)
    run = lambda steps, top_p: sample(t.oracle(16), bos, length=64, sampler='mdlm', steps=steps,
                                      top_p=top_p, generator=gen(0)).tokens
    par = t.score(run(1, 1.0))
    assert par['invalid_word_rate'].mean() > 0.3
    nuc = t.score(run(16, 0.9))
    nll = nuc['nll_per_token'].double()
    assert nll.mean() + 1.96 * nll.std() / math.sqrt(n) < t.entropy_per_token


def test_oracle_is_vectorised_over_rows():
    "A batch gives each row what that row alone gives (no state shared between rows)."
    t = MarkovWords()
    y = observations(t, 32, 7)
    o = t.oracle(16, 'eps_hybrid', 0.1)
    whole = o.window(y, 16, 48)[0]
    for r in (0, 5, 31): torch.testing.assert_close(o.window(y[r:r + 1], 16, 48)[0][0], whole[r])


def test_prefix_reuse_changes_nothing():
    "The oracle keeps the messages of the last clean prefix; each call equals a fresh oracle's."
    t = MarkovWords()
    y = observations(t, 6, 11)
    o = t.oracle(16, 'eps_hybrid', 0.2)
    z = y.clone()
    z[2, 5] = t.mask_id  # a change inside the prefix of later windows
    calls = [(y, 16, 32), (y, 32, 48), (z, 48, 64), (z, 0, 64), (y[:3], 48, 64), (y, 48, 64),
             (z, 16, 48)]
    for x, s, e in calls:
        assert torch.equal(o.window(x, s, e)[0], t.oracle(16, 'eps_hybrid', 0.2).window(x, s, e)[0])


# ---------------------------------------------------------------- problems

def test_markov_problems():
    t = MarkovWords()
    rep = t.problems(8, gen(0), 'repair')
    assert ((rep.infill != rep.target).sum(-1) == 6).all()  # round(0.1 * 63)
    assert not rep.editable[:, 0].any() and rep.editable[:, 1:].all()
    assert not (rep.infill == t.mask_id).any()
    inf = t.problems(8, gen(0), 'infill', frac=0.5)
    assert (inf.scored.sum(-1) == 32).all() and torch.equal(inf.infill == t.mask_id, inf.editable)
    cont = t.problems(8, gen(0), 'continue')
    assert torch.equal(cont.scored[0].nonzero()[:, 0], torch.arange(32, 64))
    r = sample(t.oracle(16), length=64, sampler='bd3', infill=inf.infill, generator=gen(0))
    assert torch.equal(r.tokens[~inf.editable], inf.target[~inf.editable])
    r = sample(t.oracle(16, 'eps_hybrid'), length=64, sampler='fixed', infill=rep.infill,
               editable=rep.editable, generator=gen(0), nfe_budget=16)
    s = t.score(r.tokens, rep)
    assert set(s) >= {'token_accuracy', 'exact_match', 'invalid_word_rate'}
    assert all(v.shape == (8,) for v in s.values())


# ---------------------------------------------------------------- sudoku

def test_solver_worked_by_hand():
    puzzle = [1, 2, 3, 4, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 1]
    assert solve_sudoku(puzzle, 4) == [[1, 2, 3, 4, 3, 4, 1, 2, 2, 1, 4, 3, 4, 3, 2, 1]]
    puzzle[15] = 0  # row 1 is then 3 4 1 2 (finished two ways) or 3 4 2 1 (one way): three
    assert len(solve_sudoku(puzzle, 4, limit=5)) == 3
    assert len(solve_sudoku(puzzle, 4)) == 2  # the default limit stops at two: 'not unique'
    assert solve_sudoku([1, 0, 0, 1] + [0] * 12, 4) == []  # two 1s in the first row


@pytest.mark.parametrize('size', [4, 6, 9])
def test_puzzles_have_one_solution(size):
    import random
    rng = random.Random(size)
    for _ in range(3 if size < 9 else 1):
        puzzle, solution = make_puzzle(size, rng, givens=None if size < 9 else 40)
        assert solve_sudoku(puzzle, size) == [solution]
        assert sorted(solution[:size]) == list(range(1, size + 1))
    if size < 9:  # minimal: no given can be removed
        for i in [i for i, d in enumerate(puzzle) if d]:
            less = list(puzzle)
            less[i] = 0
            assert len(solve_sudoku(less, size)) == 2


def test_sudoku_task_scores():
    t = Sudoku(SudokuConfig(size=6))
    assert t.seq_len == 40 and t.vocab_size == 9 and t.mask_id == 8
    pz = t.problems(2, gen(0))
    assert torch.equal(pz.editable, pz.infill == t.mask_id)
    assert (pz.target[:, 37:] == t.pad_id).all()
    s = t.score(pz.target, pz)
    assert s['solved'].tolist() == [1, 1] and s['violations'].tolist() == [0, 0]
    assert s['cell_accuracy'].tolist() == [1, 1]
    bad = pz.target.clone()
    bad[:, 1] = bad[:, 2]  # row 0 repeats a digit: +1 in the row, +1 in its column, +1 in the box
    bad[1, 3] = t.pad_id  # and, in the second puzzle, a cell without a digit
    s = t.score(bad, pz)
    assert s['violations'].tolist() == [3, 4] and s['solved'].tolist() == [0, 0]
    rows = t.sample(3, gen(1))
    assert t.score(rows)['valid_grid'].tolist() == [1, 1, 1]
    r = sample(_uniform_denoiser(t, 8), length=40, sampler='confidence', infill=pz.infill,
               generator=gen(0))
    assert torch.equal(r.tokens[~pz.editable], pz.infill[~pz.editable])  # givens held fixed


def test_window_denoiser_contract():
    "What `sample` checks of a denoiser: attributes, `window`'s shapes, hidden states for a gate."
    from ardm_nb.gate import GateConfig, OverwriteGate
    t = Sudoku()
    u = _uniform_denoiser(t, 8)
    with pytest.raises(TypeError, match='must be a BlockDiffusionLM, an ArdmForDiffusionLM or a'):
        sample(object(), length=24, generator=gen())
    u.window = lambda x, s, e: (torch.zeros(x.shape[0], e - s, t.vocab_size - 1), None)
    with pytest.raises(ValueError, match=r'window\(\) must return float logits of shape \(1, 8, 7'):
        sample(u, length=24, generator=gen())
    with pytest.raises(ValueError, match='this denoiser gives none \\(hidden_dim=0\\)'):
        sample(_uniform_denoiser(t, 8), length=24, sampler='gate', generator=gen(),
               gate=OverwriteGate(GateConfig(hidden_dim=16)))
    with pytest.raises(ValueError, match="length=48 exceeds the denoiser's max_len=24"):
        sample(_uniform_denoiser(t, 8), length=48, generator=gen())
    bad = _uniform_denoiser(t, 8)
    bad.block_size = 5
    with pytest.raises(ValueError, match="block_size=5 must divide its max_len=24"):
        sample(bad, length=24, generator=gen())
    o, calls = counting(get_task('markov-words').oracle(16))
    bos = torch.zeros(2, 1, dtype=torch.long)
    r = sample(o, bos, length=64, sampler='bd3', steps=16, generator=gen(0))
    assert r.nfe == len(calls) and len(set(calls)) == 4  # an unchanged step was not re-run
    assert r.nfe < r.steps


def _uniform_denoiser(t, Lb):
    "A WindowDenoiser that knows nothing: equal logits everywhere."
    class Uniform:
        block_size, max_len, mask_id, vocab_size = Lb, t.seq_len, t.mask_id, t.vocab_size
        hidden_dim, device = 0, 'cpu'
        def window(self, x, s, e): return torch.zeros(x.shape[0], e - s, t.vocab_size), None
    return Uniform()


# ---------------------------------------------------------------- text

def test_char_vocabulary_is_the_corpus_alphabet():
    from ardm_nb.data import shakespeare_works
    assert set(''.join(shakespeare_works().values())) == set(SHAKESPEARE_CHARS)
    tok = CharTokenizer()
    assert tok.decode(tok.encode('Alas, poor Yorick!\n')) == 'Alas, poor Yorick!\n'


@pytest.mark.parametrize('kind', ['infill', 'continue', 'repair'])
def test_char_problems_come_from_held_out_works(kind):
    from ardm_nb.data import shakespeare_split
    t = ShakespeareChar(ShakespeareConfig(seq_len=48))
    pz = t.problems(4, gen(0), kind)
    test_works = '\n\n'.join(shakespeare_split('test').values())
    assert all(s in test_works for s in t.decode(pz.target))
    hyp, ref = t.texts(pz.target, pz)
    assert hyp == ref and all(ref)
    if kind == 'repair': assert ((pz.infill != pz.target).sum(-1) == 5).all()  # round(0.1 * 47)
    s = t.score(pz.target, pz)
    assert s['exact_match'].tolist() == [1.0] * 4 and set(s) >= {'distinct_2', 'repeat_4'}
    x = t.sample(3, gen(1))
    assert x.shape == (3, 48) and (x[:, 0] == t.bos_id).all() and not (x[:, 1:] == t.mask_id).any()


def test_bpe_task_with_a_tokenizer_folder(tmp_path):
    from ardm_nb.data import train_tokenizer
    tok = train_tokenizer(['To be, or not to be, that is the question.'] * 50, vocab_size=300)
    tok.save_pretrained(tmp_path)
    t = get_task('shakespeare-bpe', tokenizer=str(tmp_path), seq_len=32, split='valid')
    assert isinstance(t, ShakespeareBPE) and t.vocab_size == len(tok)
    assert t.mask_id == tok.mask_token_id
    pz = t.problems(2, gen(0), 'continue')
    hyp, ref = t.texts(pz.target, pz)
    assert hyp == ref and len(ref[0]) > 0


# ------------------------------------------------------ bad input: one sentence naming the value

@pytest.mark.parametrize('make,match', [
    (lambda: get_task('chess'), "unknown task 'chess'; choose one of: markov-words"),
    (lambda: get_task('markov-words', n_words=60), 'n_words=60 must be divisible by n_first=16'),
    (lambda: get_task('markov-words', n_words=64, n_first=2, n_second=16),
     'allowed: n_words <= n_first \\* n_second'),
    (lambda: get_task('markov-words', successors=0), 'successors=0'),
    (lambda: get_task('markov-words', seq_len=2), 'seq_len=2'),
    (lambda: get_task('markov-words', width=3), "takes no parameter 'width'"),
    (lambda: get_task('sudoku', size=8), 'size=8 has no puzzles; allowed sizes: 4, 6, 9'),
    (lambda: get_task('sudoku', givens=17), 'givens=17'),
    (lambda: get_task('sudoku').oracle(8),
     "task 'sudoku' has no oracle denoiser; tasks with one: markov-words"),
    (lambda: get_task('shakespeare-char').oracle(8), 'has no oracle denoiser'),
    (lambda: get_task('shakespeare-char', split='train'), "split='train' must be 'test' or"),
    (lambda: get_task('shakespeare-bpe', tokenizer='/nonexistent'),
     "tokenizer path '/nonexistent' does not exist"),
    (lambda: get_task('markov-words').oracle(12), 'block_size=12 must divide'),
    (lambda: get_task('markov-words').oracle(16, noise='gamma_hybrid'),
     "noise='gamma_hybrid' must be one of"),
    (lambda: get_task('markov-words').oracle(16, 'eps_hybrid', eps=1.0), 'eps=1.0 is outside'),
    (lambda: get_task('markov-words').problems(2, gen(), 'solve'), "no problems of kind='solve'"),
    (lambda: get_task('markov-words').problems(2, gen(), 'repair', frac=0), 'frac=0'),
    (lambda: get_task('markov-words').score(torch.zeros(2, 10, dtype=torch.long)),
     'must be a tensor \\[n, seq_len=64\\]'),
    (lambda: get_task('markov-words').score(torch.full((1, 64), 99)),
     'holds ids in \\[99, 99\\]; allowed: \\[0, 33\\]'),
    (lambda: get_task('markov-words').oracle(16).window(torch.zeros(1, 64).long(), 8, 16),
     'whole blocks'),
])
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match): make()


def test_registry_lists_every_task():
    assert set(TASKS) == {'markov-words', 'sudoku', 'sudoku-6x6', 'sudoku-9x9', 'shakespeare-char',
                          'shakespeare-bpe'}


def test_sudoku_size_names_build_the_sized_task():
    "`ardm train --task sudoku-6x6` takes no parameters: the name alone gives size 6 (and 9)."
    s6, s9 = get_task('sudoku-6x6'), get_task('sudoku-9x9')
    assert (s6.cfg.size, s6.seq_len, s6.vocab_size, s6.mask_id) == (6, 40, 9, 8)
    assert (s9.cfg.size, s9.seq_len, s9.vocab_size) == (9, 88, 12)
    same = get_task('sudoku', size=6).problems(3, torch.Generator().manual_seed(2))
    ours = s6.problems(3, torch.Generator().manual_seed(2))
    assert torch.equal(same.infill, ours.infill) and torch.equal(same.target, ours.target)
    assert get_task('sudoku-6x6', givens=20).cfg.givens == 20
    with pytest.raises(ValueError, match='size=5 has no puzzles'):
        get_task('sudoku-6x6', size=5)
