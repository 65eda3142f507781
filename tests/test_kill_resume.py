"""A pre-training run SIGKILLed inside its checkpoint saves and relaunched with
``tools/train.py --resume`` loses nothing (``max_keep_ckpts=1``) and repeats, after each
resume point, exactly the losses and learning rates the killed run had logged.

The kills are made by ``benchmarks/kill_resume_stress.py``'s hook (that script runs 50
random ones and compares the end of the run bit for bit with an uninterrupted run):

1. the save of ``iter_4.pth`` is killed half written: ``iter_2.pth`` (upstream mmengine
   deleted it before writing) and the pointer to it are kept;
2. the resumed run is killed after ``iter_6.pth`` is in place, before ``last_checkpoint``
   moves to it: the run resumes from ``iter_4.pth``, and the next save deletes both.
"""
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from mixedae.engine import load_checkpoint_file

sys.path.insert(0, str(ROOT / 'benchmarks'))
import kill_resume_stress as stress  # noqa: E402

MAX_ITERS, INTERVAL = 8, 2


def run(work_dir: Path, data_root: Path, log: Path, kill=None) -> int:
    config = stress.config_killed_at(log.parent, *kill) if kill else stress.CONFIG
    proc = stress.launch(stress.train_command(work_dir, data_root, MAX_ITERS, INTERVAL,
                                              config), log)
    code = stress.end(proc, timeout=300)
    stress.reap(proc)
    return code


def files(work_dir: Path) -> list:
    """Checkpoints, the pointer and temporary files (not logs or the dumped config)."""
    return sorted(p.name for p in work_dir.iterdir() if p.name.startswith(
        ('iter_', 'last_checkpoint')) or p.name.endswith('.partial'))


@pytest.mark.slow
def test_runs_killed_while_saving_resume_exactly(pretrain_data_root, tmp_path):
    work, data = tmp_path / 'work', pretrain_data_root
    code = run(work, data, tmp_path / 'a.log', kill=('mid-write', 4))
    assert code == -9, (tmp_path / 'a.log').read_text()[-3000:]
    partial = [name for name in files(work) if name.endswith('.partial')]
    assert len(partial) == 1 and partial[0].startswith('.iter_4.pth.')
    assert files(work) == sorted(partial + ['iter_2.pth', 'last_checkpoint'])
    assert stress.last_checkpoint(work) == work / 'iter_2.pth'

    assert run(work, data, tmp_path / 'b.log', kill=('before-pointer', 6)) == -9
    assert files(work) == ['iter_4.pth', 'iter_6.pth', 'last_checkpoint']
    assert stress.last_checkpoint(work) == work / 'iter_4.pth'

    assert run(work, data, tmp_path / 'c.log') == 0, (tmp_path / 'c.log').read_text()[-3000:]
    assert files(work) == [f'iter_{MAX_ITERS}.pth', 'last_checkpoint']
    logs = (tmp_path / 'b.log').read_text(), (tmp_path / 'c.log').read_text()
    assert 'resumed epoch: 0, iter: 2' in logs[0] and 'resumed epoch: 0, iter: 4' in logs[1]

    a, b, c = stress.logged(work)
    assert (sorted(a), sorted(b), sorted(c)) == ([1, 2, 3, 4], [3, 4, 5, 6], [5, 6, 7, 8])
    for first, again, iterations in ((a, b, (3, 4)), (b, c, (5, 6))):
        for it in iterations:
            assert ({k: again[it][k] for k in stress.COMPARED}
                    == {k: first[it][k] for k in stress.COMPARED}), it
    final = load_checkpoint_file(str(work / f'iter_{MAX_ITERS}.pth'))
    assert final['meta']['iter'] == MAX_ITERS
    assert int(next(iter(final['optimizer']['state'].values()))['step']) == MAX_ITERS
    assert final['message_hub']['runtime_info']['keep_ckpt_ids'] == [MAX_ITERS]
