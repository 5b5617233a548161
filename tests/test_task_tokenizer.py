"What a `task:NAME` run stores as its tokenizer: the task's own BPE for BPE Shakespeare, ids elsewhere."
import torch
from ardm_nb.data import load_tokenizer
from ardm_nb.eval import task_tokenizer
from ardm_nb.tasks import get_task

def test_bpe_task_stores_its_bpe(tmp_path):
    "A BPE run's tokenizer folder, given back as `tokenizer=`, makes the very same ids and text."
    task = get_task('shakespeare-bpe', bpe_vocab=300, seq_len=16)
    task_tokenizer(task).save_pretrained(tmp_path)
    again = get_task('shakespeare-bpe', tokenizer=str(tmp_path), seq_len=16)
    assert (again.vocab_size, again.bos_id, again.mask_id) == (task.vocab_size, task.bos_id,
                                                                 task.mask_id)
    text = 'To be, or not to be, that is the question:'
    assert torch.equal(again.tok.encode(text), task.tok.encode(text))
    ids = task.tok.encode(text)
    assert len(ids) < len(text)  # merges, not one id per character
    assert load_tokenizer(tmp_path).decode(ids.tolist()) == text

def test_markov_task_stores_ids():
    "A task without an HF tokenizer gets the word-level one: token `<i>` is id i."
    task = get_task('markov-words')
    tok = task_tokenizer(task)
    assert len(tok) == task.vocab_size
    assert tok('<5> <7>', add_special_tokens=False)['input_ids'] == [5, 7]
    assert (tok.bos_token_id, tok.mask_token_id) == (task.bos_id, task.mask_id)
