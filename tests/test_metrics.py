"Metrics against the libraries called directly and hand-worked values (intervals: test_stats.py)."
import math

import pytest
import torch

from ardm_nb.mbr import mbr_select
from ardm_nb.metrics import (bleu, distinct_n, failures, repeated_ngram_rate,
                             revision_accounting, rouge, unigram_entropy)

HYPS = ['the cat sat on the mat', 'a dog ran in the parks today', 'nothing matches here',
        'stars were shining bright']
REFS = ['the cat is on the mat', 'the dogs ran in a park today', 'completely different words',
        'the stars shone brightly']


def test_bleu_parity_with_sacrebleu():
    import sacrebleu
    assert bleu(HYPS, REFS) == sacrebleu.corpus_bleu(HYPS, [REFS]).score


def test_bleu_by_hand():
    # p1..p4 = 5/6, 4/5, 3/4, 2/3 and equal lengths: 100 * (1/3) ** (1/4)
    assert bleu(['a b c d e f'], ['a b c d e g']) == pytest.approx(100 * 3 ** -0.25, abs=1e-9)


def test_rouge_parity_with_rouge_score():
    from rouge_score import rouge_scorer
    sc = rouge_scorer.RougeScorer(['rouge1', 'rouge2', 'rougeL'], use_stemmer=True)
    direct = [sc.score(r, h) for h, r in zip(HYPS, REFS)]
    got = rouge(HYPS, REFS)
    for k in ('rouge1', 'rouge2', 'rougeL'):
        assert got[k] == pytest.approx(sum(d[k].fmeasure for d in direct) / len(direct), abs=1e-12)


def test_rouge_by_hand_with_stemming():
    r = rouge(['the cats sat'], ['the cat sat on the mat'])
    want = (2 / 3, 4 / 7, 2 / 3)
    assert (r['rouge1'], r['rouge2'], r['rougeL']) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize('h,r,msg', [(['a'], ['a', 'b'], 'equally long'),
                                     ('a', 'a', 'list of strings'), ([], [], 'not empty'),
                                     ([1], ['a'], 'list of strings')])
def test_text_metrics_bad_input(h, r, msg):
    for f in (bleu, rouge):
        with pytest.raises(ValueError, match=msg): f(h, r)


def test_diversity_by_hand():
    rows = torch.tensor([[1, 2, 1, 2, 1], [3, 4, 5, 6, 7]])
    assert distinct_n(rows, 2) == 0.75
    assert repeated_ngram_rate(rows, 2).tolist() == [0.5, 0.0]
    assert failures(rows).tolist() == [True, False]
    assert unigram_entropy(torch.tensor([[2, 2, 3, 3]])).item() == pytest.approx(math.log(2))


def test_revision_accounting_by_hand():
    ref = torch.tensor([[1, 2, 3, 4, 5]])
    hist = torch.tensor([[[1, 2, 9, 4, 5]], [[1, 2, 3, 8, 5]], [[1, 6, 3, 8, 5]]])
    start = torch.tensor([[1, 7, 9, 4, 5]])
    rv = revision_accounting(ref, start, hist, torch.ones(1, 5, dtype=torch.bool), 9)
    assert (rv.fixed.item(), rv.broken.item(), rv.lost.item(), rv.revisions.item()) == (1, 1, 2, 3)
    not_1 = torch.tensor([[True, False, True, True, True]])
    rv = revision_accounting(ref, start, hist, not_1, 9)
    # position 1 not counted
    assert (rv.fixed.item(), rv.lost.item(), rv.revisions.item()) == (1, 1, 1)


def test_mbr_select_majority():
    assert mbr_select([['a b c d', 'a b c d', 'w x y z']]) == [0]
