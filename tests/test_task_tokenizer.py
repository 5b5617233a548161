"What a `task:NAME` run stores as its tokenizer: the task's own BPE for BPE Shakespeare, ids elsewhere."
import torch
from ardm_nb.data import load_tokenizer
from ardm_nb.tasks import task_tokenizer
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

def test_char_task_stores_characters(tmp_path):
    "The character task's stored tokenizer has the task's ids and decodes to the very text."
    task = get_task('shakespeare-char')
    task_tokenizer(task).save_pretrained(tmp_path)
    tok = load_tokenizer(tmp_path)
    text = "ROMEO:\nBut, soft! what light through yonder window breaks?"
    ids = tok(text, add_special_tokens=False)['input_ids']
    assert ids == task.tok.encode(text).tolist()
    assert (len(tok), tok.bos_token_id, tok.mask_token_id) == (task.vocab_size, task.bos_id,
                                                               task.mask_id)
    assert tok.decode([task.bos_id, *ids, task.mask_id], skip_special_tokens=True) == text

def test_char_run_samples_text(tmp_path, capsys):
    "`ardm sample` on a model of `ardm train --task shakespeare-char` prints characters, not ids."
    import re
    from ardm_nb.cli import main
    out = tmp_path / 'run'
    assert main(['train', '--task', 'shakespeare-char', '--config', 'tiny', '--steps', '2',
                 '--out', str(out), '--threads', '1']) == 0
    capsys.readouterr()
    assert main(['sample', '--model', str(out / 'model'), '--num', '1', '--length', '32']) == 0
    body = capsys.readouterr().out.split('--- sample 0 ---', 1)[1]
    assert body.strip() and re.search(r'<\d+>', body) is None
    # a fresh process (ardm_nb.hf not yet imported) reads the folder's tokenizer without a warning
    import subprocess, sys
    code = f'from ardm_nb.data import load_tokenizer; load_tokenizer({str(out / "model")!r})'
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert 'model of type' not in res.stderr, res.stderr
