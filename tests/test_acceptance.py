"""Property tests of acceptance: no committed edit lowers log q, the repetition guards, proposals
and early stop."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

from ardm_nb.acceptance import (
    AcceptanceConfig,
    accept_edits,
    creates_repeat,
    no_regression,
    propose,
    should_stop,
)
from ardm_strategies import logit_rows

FAST = settings(max_examples=100, deadline=None)


def _t(x):
    return torch.tensor(x, dtype=torch.float32)


def repeat_reference(x: list, y: list, n: int, ignore=None) -> list:
    "Brute force: write y[i] at i alone; does an n-gram over i (no `ignore`) start elsewhere too?"
    L, out = len(x), []
    for i in range(L):
        z = list(x)
        z[i] = y[i]
        grams = {s: tuple(z[s : s + n]) for s in range(L - n + 1)}
        mine = [s for s in grams if s <= i < s + n and (ignore is None or ignore not in grams[s])]
        out.append(
            y[i] != x[i] and any(grams[s] == grams[o] for s in mine for o in grams if o != s)
        )
    return out


# --- worked examples
# --------------------------------------------------------------------------------------------


def test_creates_repeat_worked_examples():
    # 1 2 1 3 -> write 2 at 3: 1 2 1 2 has the bigram (1, 2) at 0 and at 2
    assert creates_repeat(torch.tensor([1, 2, 1, 3]), torch.tensor([1, 2, 1, 2]), 2).tolist() == [
        False,
        False,
        False,
        True,
    ]
    # writing 4 there instead repeats nothing; unchanged positions never count
    assert not creates_repeat(torch.tensor([1, 2, 1, 3]), torch.tensor([1, 2, 1, 4]), 2).any()
    # n = 1: a token that already occurs elsewhere is a repeated unigram
    assert creates_repeat(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 1]), 1).tolist() == [
        False,
        False,
        True,
    ]
    # 7 7 5 -> 7 7 7: the two new bigrams (7, 7) overlap each other
    assert creates_repeat(torch.tensor([7, 7, 5]), torch.tensor([7, 7, 7]), 2).tolist() == [
        False,
        False,
        True,
    ]
    # n longer than the sequence: nothing can repeat
    assert not creates_repeat(torch.tensor([1, 1]), torch.tensor([2, 2]), 3).any()
    # ignore_id: windows containing it never count (0 is MASK here)
    assert not creates_repeat(
        torch.tensor([[5, 0, 9, 0]]), torch.tensor([[5, 0, 9, 9]]), 1, ignore_id=9
    ).any()
    assert creates_repeat(
        torch.tensor([[5, 0, 9, 0]]), torch.tensor([[5, 0, 9, 9]]), 1
    ).tolist() == [[False, False, False, True]]


def test_propose_worked_examples():
    logits = _t([[0, 5, 4, 0], [0, 1, 9, 8], [7, 0, 0, 6]])  # argmax 1, 2, 0; runner-up 2, 3, 3
    tokens = torch.tensor([3, 3, 1])  # no argmax equals a neighbour's token
    assert propose(logits, tokens, top2_fallback=False).tolist() == [1, 2, 0]
    assert propose(logits, tokens).tolist() == [1, 2, 0]
    # tokens 2 0 3: position 1's argmax 2 copies its left neighbour, position 2's argmax 0 too:
    # runner-ups 3 and 3
    assert propose(logits, torch.tensor([2, 0, 3])).tolist() == [1, 3, 3]
    assert propose(logits, torch.tensor([2, 0, 3]), top2_fallback=False).tolist() == [1, 2, 0]


def test_no_regression_worked_examples():
    q_old = _t([0.3, 0.3, 0.3, 0.5])
    q_new = _t([0.5, 0.38, 0.65, 0.4])
    # ratio (lam 1.2, delta_p .1): need max(.36, .4) = .4 for q_old = .3 -> .5 yes, .38 no, .65 yes;
    # lower q_new no
    assert no_regression(q_new.log(), q_old.log()).tolist() == [True, False, True, False]
    # floor (lam .6): need max(.6, .4) = .6 -> only .65
    assert no_regression(
        q_new.log(), q_old.log(), AcceptanceConfig(rule='floor', lam=0.6)
    ).tolist() == [False, False, True, False]


def test_accept_edits_ratio_versus_floor():
    # position 1: q = .05 .3 .05 .5 .05 .05 over 6 tokens, current token 1 (q .3), proposal 3 (q .5)
    row = _t([0.05, 0.3, 0.05, 0.5, 0.05, 0.05]).log()
    logits, tokens = torch.stack([torch.zeros(6), row, torch.zeros(6)]), torch.tensor([0, 1, 2])
    selected = torch.tensor([False, True, False])
    ratio = accept_edits(logits, tokens, selected)  # .5 >= max(1.2 * .3, .3 + .1): accepted
    assert ratio.tokens.tolist() == [0, 3, 2] and ratio.accepted.tolist() == [False, True, False]
    assert int(ratio.num_accepted) == 1
    # .5 < .6: refused
    floor = accept_edits(logits, tokens, selected, AcceptanceConfig(rule='floor', lam=0.6))
    assert floor.tokens.tolist() == [0, 1, 2] and not floor.accepted.any()
    assert floor.proposal[1] == 3 and not floor.no_regression[1]


def test_accept_edits_guards_worked_examples():
    # position 1's argmax is token 5, the left neighbour's token; without the fallback it is
    # proposed and refused
    row = _t([0, 0, 0, 0, 0, 9, 8])
    logits, tokens = torch.stack([torch.zeros(7), row, torch.zeros(7)]), torch.tensor([5, 1, 2])
    cfg = AcceptanceConfig(top2_fallback=False, ngram=0)
    r = accept_edits(logits, tokens, torch.tensor([False, True, False]), cfg)
    assert (
        r.proposal[1] == 5
        and r.neighbour_copy.tolist() == [False, True, False]
        and not r.accepted.any()
    )
    # with the fallback the runner-up 6 is proposed and committed
    r = accept_edits(logits, tokens, torch.tensor([False, True, False]), AcceptanceConfig(ngram=0))
    assert r.tokens.tolist() == [5, 6, 2]


def test_should_stop_worked_examples():
    p = _t([[0.1, 0.2], [0.9, 0.1], [0.0, 0.0]])
    assert should_stop(torch.tensor([0, 2, 1]), p).tolist() == [True, False, False]
    assert should_stop(torch.tensor([1, 1, 1]), p, theta_stop=0.5).tolist() == [True, False, True]


# --- properties
# -------------------------------------------------------------------------------------------------


@FAST
@given(
    B=st.integers(1, 3),
    L=st.integers(1, 9),
    n=st.integers(1, 4),
    ignore=st.one_of(st.none(), st.integers(0, 2)),
    data=st.data(),
)
def test_creates_repeat_matches_brute_force(B, L, n, ignore, data):
    seq = st.lists(st.lists(st.integers(0, 2), min_size=L, max_size=L), min_size=B, max_size=B)
    x, y = data.draw(seq), data.draw(seq)
    got = creates_repeat(torch.tensor(x), torch.tensor(y), n, ignore_id=ignore)
    assert got.dtype == torch.bool and got.shape == (B, L)
    assert got.tolist() == [repeat_reference(a, b, n, ignore) for a, b in zip(x, y)]
    w = data.draw(st.lists(st.lists(st.booleans(), min_size=L, max_size=L), min_size=B, max_size=B))
    some = creates_repeat(
        torch.tensor(x), torch.tensor(y), n, ignore_id=ignore, where=torch.tensor(w)
    )
    # only where asked
    assert some.tolist() == [[r and k for r, k in zip(row, wr)] for row, wr in zip(got.tolist(), w)]


configs = st.one_of(
    st.builds(
        AcceptanceConfig,
        rule=st.just('ratio'),
        lam=st.one_of(st.just(1.0), st.floats(1.0, 3.0)),
        delta_p=st.one_of(st.just(0.0), st.floats(0.0, 0.99)),
        ngram=st.integers(0, 3),
        neighbour_guard=st.booleans(),
        top2_fallback=st.booleans(),
        ignore_id=st.one_of(st.none(), st.integers(0, 4)),
    ),
    st.builds(
        AcceptanceConfig,
        rule=st.just('floor'),
        lam=st.one_of(st.just(0.0), st.floats(0.0, 0.99)),
        delta_p=st.one_of(st.just(0.0), st.floats(0.0, 0.99)),
        ngram=st.integers(0, 3),
        neighbour_guard=st.booleans(),
        top2_fallback=st.booleans(),
        ignore_id=st.one_of(st.none(), st.integers(0, 4)),
    ),
)


@st.composite
def edit_steps(draw):
    "Logits [B, L, V], current tokens [B, L] and a selection mask [B, L]."
    B, L, V = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(2, 5))
    logits = draw(logit_rows(shape=(B, L, V)))
    tokens = torch.tensor(
        draw(
            st.lists(
                st.lists(st.integers(0, V - 1), min_size=L, max_size=L), min_size=B, max_size=B
            )
        )
    )
    selected = torch.tensor(
        draw(st.lists(st.lists(st.booleans(), min_size=L, max_size=L), min_size=B, max_size=B))
    )
    return logits, tokens, selected


def _check_never_regresses(logits, tokens, selected, cfg):
    res = accept_edits(logits, tokens, selected, cfg)
    assert res.tokens.shape == tokens.shape and res.accepted.dtype == torch.bool
    assert torch.equal(res.tokens[~selected], tokens[~selected]), 'an unselected position changed'
    assert not (res.accepted & ~selected).any()
    assert torch.equal(res.tokens != tokens, res.accepted), (
        'tokens must change exactly where an edit is accepted'
    )
    # the log q the rule is about, in the package's precision
    logq = torch.log_softmax(logits.float(), -1)
    new, old = (logq.gather(-1, v[..., None]).squeeze(-1) for v in (res.tokens, tokens))
    a = res.accepted
    assert (new[a] >= old[a]).all(), (
        f'accepted edits lowered log q: {old[a].tolist()} -> {new[a].tolist()}'
    )
    return res, logq


@FAST
@given(step=edit_steps(), cfg=configs)
def test_acceptance_never_lowers_log_q(step, cfg):
    logits, tokens, selected = step
    res, logq = _check_never_regresses(logits, tokens, selected, cfg)
    a = res.accepted
    if not a.any():
        return
    q = logq.double().exp()
    q_new, q_old = (q.gather(-1, v[..., None]).squeeze(-1)[a] for v in (res.tokens, tokens))
    floor = cfg.lam * q_old if cfg.rule == 'ratio' else torch.full_like(q_old, cfg.lam)
    assert (q_new >= torch.maximum(floor, q_old + cfg.delta_p) - 1e-6).all()
    # committed tokens are the argmax or the runner-up of their position
    top2 = logits.topk(2, dim=-1).indices[a]
    assert ((top2 == res.tokens[a][:, None]).any(-1)).all()
    if cfg.neighbour_guard:
        left = torch.cat([torch.full_like(tokens[..., :1], -1), tokens[..., :-1]], -1)
        right = torch.cat([tokens[..., 1:], torch.full_like(tokens[..., :1], -1)], -1)
        assert not ((res.tokens == left) | (res.tokens == right))[a].any(), (
            'an accepted edit copies a neighbour'
        )
    if cfg.ngram:
        rep = torch.tensor(
            [
                repeat_reference(x, y, cfg.ngram, cfg.ignore_id)
                for x, y in zip(
                    tokens.reshape(-1, tokens.shape[-1]).tolist(),
                    res.proposal.reshape(-1, tokens.shape[-1]).tolist(),
                )
            ]
        ).reshape(tokens.shape)
        assert not (rep & a).any(), 'an accepted edit creates a repeated n-gram'


def test_acceptance_never_lowers_log_q_near_tie():
    # log q = -0.8619948029, -0.8619948626, -1.86; q(0) == q(1) == 0.42231879 in float32
    row = [0.0, -3e-8, -1.0]
    logits, tokens, selected = _t([row, row]), torch.tensor([0, 0]), torch.tensor([False, True])
    # position 1's argmax (0) copies its left neighbour, so the runner-up 1 is proposed
    _check_never_regresses(
        logits, tokens, selected, AcceptanceConfig(rule='ratio', lam=1.0, delta_p=0.0, ngram=0)
    )


@settings(max_examples=50, deadline=None)
@given(step=edit_steps(), cfg=configs)
def test_nothing_selected_means_nothing_changes(step, cfg):
    logits, tokens, _ = step
    res = accept_edits(logits, tokens, torch.zeros_like(tokens, dtype=torch.bool), cfg)
    assert torch.equal(res.tokens, tokens) and not res.accepted.any()
    assert torch.equal(res.num_accepted, torch.zeros(tokens.shape[:-1], dtype=torch.long))
    assert should_stop(res.num_accepted, torch.ones(tokens.shape)).all()
