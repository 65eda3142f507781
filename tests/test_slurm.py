"""The slurm executor against a real SLURM (tools/slurm_local.sh: munge, slurmctld and
slurmd on this machine, two CPUs): the tiny study of the pipeline tests run as jobs (same
table as the local run), a re-run while its jobs are queued, ``--status``, a training job
requeued twice (by ``scontrol requeue`` and by the time-limit signal) that resumes
exactly, and bad input.
"""
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from conftest import PUBLISHED, ROOT, TOOLS, demo_method, write_pipeline
from mixedae.pipeline import PipelineConfigError, load_spec, plan_stages
from mixedae.study import run_dirs
from mixedae.tabulate.runs import scalars

STAGES = ['prepare', 'mixedae/pretrain', 'mixedae/convert', 'mixedae/cls_finetune/seed_0',
          'mixedae/cls_finetune/seed_1', 'mixedae/cls_linear', 'mixedae/det_coco',
          'mixedae/seg_ade20k', 'cost', 'tabulate', 'report']
TRANSFER = STAGES[3:8]
DIRS = {**{stage: stage for stage in STAGES}, 'tabulate': 'tables'}   # stage -> folder
METRICS = ['ft_top1', 'lin_top1', 'ade_miou', 'coco_box', 'coco_mask']


@pytest.fixture(scope='session')
def slurm_cluster():
    """SLURM started by the project's script (installed first if absent); stopped at the
    end if this session started it. Clients and jobs find it through SLURM_CONF."""
    script = str(ROOT / 'tools' / 'slurm_local.sh')
    result = subprocess.run(['bash', script, 'start'], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    conf = re.search(r'^SLURM_CONF=(.+)$', result.stdout, re.M)[1]
    previous = os.environ.get('SLURM_CONF')
    os.environ['SLURM_CONF'] = conf
    yield Path(conf).parent
    if result.stdout.split()[-1] == 'started':
        subprocess.run(['bash', script, 'stop'], timeout=60)
    if previous is None:
        os.environ.pop('SLURM_CONF')
    else:
        os.environ['SLURM_CONF'] = previous


def pipeline(cwd: Path, config: Path, *args: str, timeout: float = 600):
    return subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'), str(config),
                           *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def queue(cwd: Path) -> dict[str, str]:
    """Every job SLURM knows that was submitted from ``cwd``: id -> state."""
    rows = subprocess.run(['squeue', '-h', '--states=all', '-o', '%i %T %Z'],
                          capture_output=True, text=True, check=True).stdout.split('\n')
    return {r.split()[0]: r.split()[1] for r in rows if r and r.split()[2] == str(cwd)}


def with_executor(source: Path, target: Path, **executor) -> Path:
    cfg = Config.fromfile(str(source))
    cfg.executor = dict(type='slurm', cpus_per_task=1, timeout_min=30, **executor)
    cfg.dump(str(target))
    return target


def job_id(root: Path, stage: str) -> str:
    return json.loads((root / DIRS.get(stage, stage) / 'slurm' / 'job.json').read_text())[
        'job_id']


def jobcomp(cluster: Path) -> dict[str, dict]:
    """SLURM's record of finished jobs (jobcomp/filetxt): id -> fields."""
    records = {}
    for line in (cluster / 'jobcomp.log').read_text().splitlines():
        fields = dict(f.split('=', 1) for f in line.split() if '=' in f)
        records.setdefault(fields['JobId'], []).append(fields)
    return records


@pytest.fixture(scope='module')
def slurm_study(study, slurm_cluster):
    """The study of the pipeline tests, as SLURM jobs: submitted, submitted again while
    queued, its status read, then followed to the end (``--wait``)."""
    cwd, local = study
    config = with_executor(cwd / 'pipeline.py', cwd / 'slurm.py')
    start = time.monotonic()
    first = pipeline(cwd, config, '--work-root', 'slurm')
    queued = queue(cwd)
    second = pipeline(cwd, config, '--work-root', 'slurm')
    queued_again = queue(cwd)
    status = pipeline(cwd, config, '--work-root', 'slurm', '--status')
    waited = pipeline(cwd, config, '--work-root', 'slurm', '--wait')
    seconds = time.monotonic() - start
    final = pipeline(cwd, config, '--work-root', 'slurm', '--status')
    yield SimpleNamespace(cwd=cwd, root=cwd / 'slurm', local=local, first=first,
                          second=second, status=status, waited=waited, final=final,
                          queued=queued, queued_again=queued_again, seconds=seconds)
    subprocess.run(['scancel', *queue(cwd)], capture_output=True)


def test_study_runs_as_jobs(slurm_study):
    s = slurm_study
    assert s.first.returncode == 0, s.first.stdout[-3000:] + s.first.stderr[-3000:]
    for stage in STAGES:
        assert f'{stage}: submitted job {job_id(s.root, stage)}' in s.first.stdout
    assert 'mixedae/pretrain: submitted job' in s.first.stdout
    assert f'(afterok {job_id(s.root, "mixedae/pretrain")})' in s.first.stdout
    assert '--status' in s.first.stdout
    assert s.waited.returncode == 0, s.waited.stdout[-3000:] + s.waited.stderr[-3000:]
    for stage in STAGES:
        state = json.loads((s.root / DIRS[stage] / 'stage.json').read_text())
        assert state['status'] == 'done' and state['job_id'] == job_id(s.root, stage)
        assert (s.root / DIRS[stage] / 'stage.log').is_file()
    assert 'train iter 2/2' in (s.root / 'mixedae' / 'pretrain' / 'slurm' /
                                f'{job_id(s.root, "mixedae/pretrain")}_0_log.out').read_text()
    assert re.search(r'\n\d+ done in ', s.waited.stdout)
    assert (s.root / 'tables' / 'results.txt').read_text() in s.waited.stdout
    print(f'tiny study through SLURM: {s.seconds:.1f} s')


def test_rerun_while_queued_submits_nothing(slurm_study):
    s = slurm_study
    assert s.second.returncode == 0, s.second.stdout[-3000:] + s.second.stderr[-3000:]
    assert 'submitted' not in s.second.stdout
    for stage in STAGES:   # attached to its job, or its job finished in between
        assert (f'{stage}: attached to job {job_id(s.root, stage)} (' in s.second.stdout
                or f'{stage}: up to date' in s.second.stdout), stage
    assert 'tabulate: attached to job' in s.second.stdout
    assert s.queued_again.keys() == s.queued.keys()
    assert len(s.queued) == len(STAGES)
    assert 'PENDING' in s.queued_again.values()   # the re-run came while jobs were queued


def test_status_lists_jobs_states_and_logs(slurm_study):
    s = slurm_study
    assert s.status.returncode == 0, s.status.stdout + s.status.stderr
    rows = [line.split() for line in s.status.stdout.splitlines()[2:]]
    assert [row[0] for row in rows] == STAGES
    for row, stage in zip(rows, STAGES):
        assert row[1] == job_id(s.root, stage)
        assert row[2] in ('queued', 'running', 'done'), row
        assert row[-1] == str(s.root / DIRS[stage] / 'stage.log')
    assert rows[-2][2] == 'queued'   # the tables wait for every other job (the report too)
    final = [line.split() for line in s.final.stdout.splitlines()[2:]]
    assert [(r[0], r[2]) for r in final] == [(stage, 'done') for stage in STAGES]
    assert all(re.fullmatch(r'\d+:\d\d:\d\d', r[3]) for r in final)   # elapsed


def test_scheduler_ran_jobs_in_dependency_order_and_in_parallel(slurm_study, slurm_cluster):
    s = slurm_study
    records = jobcomp(slurm_cluster)
    for stage in STAGES:
        assert records[job_id(s.root, stage)][-1]['JobState'] == 'COMPLETED', stage
    states = {stage: json.loads((s.root / DIRS[stage] / 'stage.json').read_text())
              for stage in STAGES}
    span = {stage: (st['started'], st['started'] + st['seconds'])
            for stage, st in states.items()}
    order = [('prepare', 'mixedae/pretrain'), ('mixedae/pretrain', 'mixedae/convert'),
             *(('mixedae/convert', t) for t in TRANSFER), *((t, 'tabulate') for t in TRANSFER),
             ('cost', 'tabulate'), ('tabulate', 'report')]
    for before, after in order:
        assert span[before][1] <= span[after][0], (before, after)
    # two CPUs, one per job: the transfer stages run two at a time
    overlaps = [(a, b) for a in TRANSFER for b in TRANSFER
                if a < b and span[a][0] < span[b][1] and span[b][0] < span[a][1]]
    assert overlaps, span


def test_same_table_as_the_local_executor(slurm_study):
    s = slurm_study

    def measured(root: Path) -> dict:
        rows = csv.DictReader(io.StringIO((root / 'tables' / 'results.csv').read_text()))
        row = next(r for r in rows if r['method'] == 'mixedae')
        return {k: row[k] for k in ['provenance', *METRICS]}

    local = measured(s.cwd / 'study')
    assert all(local[m] != '' for m in METRICS)
    assert measured(s.root) == local


@pytest.fixture(scope='module')
def requeued(study, slurm_cluster):
    """Two identical MAE pre-trainings as jobs side by side; the first is requeued twice
    while it trains: by `scontrol requeue` (SIGTERM to the job), then by SIGUSR2 to the
    job's batch shell as SLURM sends it before a time limit (submitit requeues it)."""
    cwd, _ = study
    methods = {'a': demo_method('mae')['mae'], 'b': demo_method('mae')['mae']}
    config = with_executor(write_pipeline(cwd / 'requeue_base.py', methods, {}, pretrain={
        'train_cfg.max_iters': 300, 'param_scheduler.1.end': 300,
        'default_hooks.checkpoint.interval': 10, 'default_hooks.logger.interval': 5}),
        cwd / 'requeue.py')
    root = cwd / 'requeue'
    only = ('--only', 'prepare', 'a/pretrain', 'b/pretrain')
    submitted = pipeline(cwd, config, '--work-root', 'requeue', *only)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    stage_dir = root / 'a' / 'pretrain'
    job = job_id(root, 'a/pretrain')

    def after_checkpoint(beyond: int) -> int:
        deadline = time.monotonic() + 240
        while True:
            pointer = stage_dir / 'last_checkpoint'
            name = pointer.read_text().strip() if pointer.is_file() else ''
            if name and int(re.search(r'iter_(\d+)', name)[1]) > beyond:
                return int(re.search(r'iter_(\d+)', name)[1])
            assert time.monotonic() < deadline, 'no new checkpoint in 240 s'
            time.sleep(0.05)

    first = after_checkpoint(0)
    subprocess.run(['scontrol', 'requeue', job], check=True)
    second = after_checkpoint(first)
    subprocess.run(['scancel', '--batch', '--signal=USR2', job], check=True)
    waited = pipeline(cwd, config, '--work-root', 'requeue', *only, '--wait')
    yield SimpleNamespace(root=root, job=job, first=first, second=second, waited=waited,
                          stage_dir=stage_dir)
    subprocess.run(['scancel', *queue(cwd)], capture_output=True)


def losses(stage_dir: Path) -> dict[int, float]:
    """Loss per logged iteration over all the stage's runs (a resumed run's win)."""
    logged = {}
    for run in sorted(run_dirs(stage_dir), key=lambda r: r.name):
        logged.update({r['iter']: r['loss'] for r in scalars(run) if 'loss' in r})
    return logged


def test_requeued_training_resumes_exactly(requeued):
    r = requeued
    assert r.waited.returncode == 0, r.waited.stdout[-3000:] + r.waited.stderr[-3000:]
    assert 'a/pretrain: requeued' in r.waited.stdout or 'a/pretrain: running' in r.waited.stdout
    state = json.loads((r.stage_dir / 'stage.json').read_text())
    assert state['status'] == 'done' and Path(state['outputs']['checkpoint']).name == \
        'iter_300.pth'
    log = (r.stage_dir / 'stage.log').read_text()
    assert log.count('=== resuming the') == 2 and log.count('--resume') == 2
    runs = sorted(run_dirs(r.stage_dir), key=lambda d: d.name)
    assert len(runs) == 3
    first_iters = [rec['iter'] for rec in scalars(runs[1]) if 'loss' in rec]
    assert first_iters[0] > r.first   # the second attempt started after a checkpoint
    a, b = losses(r.stage_dir), losses(r.root / 'b' / 'pretrain')
    assert sorted(a) == sorted(b) and max(a) == 300
    assert a == b   # bit for bit: the same losses as the uninterrupted run
    restarts = subprocess.run(['squeue', '-h', '--states=all', '-j', r.job, '-O',
                               'RestartCnt'], capture_output=True, text=True).stdout
    assert restarts.strip() == '2'


def test_importing_the_executor_keeps_open_log_files_open(tmp_path):
    """submitit configures logging on import, closing every handler of the process (a
    Runner's log file, say): the executor imports it without that."""
    code = (f'import logging; handler = logging.FileHandler({str(tmp_path / "x.log")!r}); '
            'logging.getLogger("runner").addHandler(handler); '
            'from mixedae.pipeline.slurm import import_submitit; import_submitit(); '
            'assert handler.stream is not None, "closed"')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bad_executor_keys_are_named(tmp_path):
    good = dict(work_root='w', methods=dict(m=dict(config=str(
        ROOT / 'configs' / 'demo' / 'mae_vit-tiny-p8_1xb32-300i_tiny.py'))))
    cases = [
        (dict(type='slurm', partion='gpu'), r"executor: unknown key\(s\) \['partion'\]"),
        (dict(type='slurm', nodes=0), r'executor.nodes: 0 is not valid: expected a number >= 1'),
        (dict(type='slurm', sbatch='--hold'), r"executor.sbatch: '--hold' is not valid"),
        (dict(type='slurm', stages={'*/pretrian': dict(nodes=2)}),
         r'executor.stages.\*/pretrian: matches no stage'),
        (dict(type='slurm', stages={'m/pretrain': dict(gpus=2)}),
         r"executor.stages.m/pretrain: unknown key\(s\) \['gpus'\]"),
        (dict(type='cloud'), r"executor: expected dict\(type='local' or 'slurm'"),
        (dict(type='local', partition='gpu'), r"executor: unknown key\(s\) \['partition'\]"),
    ]
    for index, (executor, message) in enumerate(cases):
        path = tmp_path / f'bad{index}.py'
        Config(dict(good, executor=executor)).dump(str(path))
        with pytest.raises(PipelineConfigError, match=message) as info:
            plan_stages(load_spec(path), PUBLISHED)
        assert str(path) in str(info.value)


def test_signal_is_submitits():
    """The time-limit signal the jobs ask for is the one submitit requeues them on."""
    from mixedae.pipeline.slurm import SIGNAL, import_submitit
    assert import_submitit().JobEnvironment.USR_SIG == SIGNAL


@pytest.mark.parametrize('executor, stage, message', [
    (dict(stages={'mixedae/pretrain': dict(partition='nope')}), 'mixedae/pretrain',
     'invalid partition specified: nope'),
    (dict(stages={'mixedae/cls_linear': dict(gpus_per_node=1)}), 'mixedae/cls_linear',
     'Invalid generic resource (gres) specification'),
])
def test_refused_job_is_named_and_nothing_is_left(study, slurm_cluster, executor, stage,
                                                   message):
    cwd, _ = study
    config = with_executor(cwd / 'pipeline.py', cwd / 'refused.py', **executor)
    result = pipeline(cwd, config, '--work-root', 'refused')
    assert result.returncode == 2, result.stdout + result.stderr
    assert f'error: {stage}: SLURM refused the job: ' in result.stderr
    assert message in result.stderr
    # the jobs submitted before the refused one were held, then cancelled: none ran
    jobs = [json.loads(p.read_text())['job_id'] for p in (cwd / 'refused').rglob('job.json')]
    assert jobs and all(queue(cwd)[job] == 'CANCELLED' for job in jobs)
    assert not list((cwd / 'refused').rglob('stage.json'))


def test_multi_task_stage_trains_under_srun(study, slurm_cluster):
    """A pre-training of two tasks: srun starts two tools/train.py with --launcher slurm
    (DDP over gloo), each with half of the recipe's total batch."""
    cwd, _ = study
    config = with_executor(
        write_pipeline(cwd / 'ddp_base.py', demo_method('mae'), {},
                       pretrain={'env_cfg.dist_cfg.backend': 'gloo'}),
        cwd / 'ddp.py', stages={'*/pretrain': dict(tasks_per_node=2)})
    result = pipeline(cwd, config, '--work-root', 'ddp', '--only', 'prepare', 'mae/pretrain',
                      '--wait')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (cwd / 'ddp' / 'mae' / 'pretrain' / 'stage.log').read_text()
    assert '$ srun --nodes=1 --ntasks-per-node=2 --ntasks=2 --cpus-per-task=1' in log
    command = next(line for line in log.splitlines() if line.startswith('$ srun'))
    assert 'train_dataloader.batch_size=4 ' in command   # the recipe's 1 x 8 on 2 tasks
    assert command.endswith(' --launcher slurm')
    assert 'Distributed launcher: slurm' in log and 'GPU number: 2' in log   # world size
    iters = [r['iter'] for r in scalars(run_dirs(cwd / 'ddp' / 'mae' / 'pretrain')[0])
             if 'loss' in r]
    assert iters == [1, 2]


def test_full_study_on_slurm_dry_run():
    """The ViT-B study's jobs: 4 nodes x 8 GPUs per pre-training with 128 images per GPU
    (the recipe's 8 x 512), one node for each transfer run, no GPU for conversion, one
    for the cost measurement."""
    result = subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'),
                             'configs/pipelines/imagenet_vit-base_slurm.py', '--dry-run'],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    blocks = result.stdout.split('\n[')
    pretrain = next(b for b in blocks if b.startswith('1/21] mae/pretrain'))
    assert ('sbatch --nodes=4 --ntasks-per-node=8 --time=4320 --partition=gpu '
            '--cpus-per-task=10 --gpus-per-node=8 --mem=491520M') in pretrain
    assert ('srun --nodes=4 --ntasks-per-node=8 --ntasks=32 --cpus-per-task=10 '
            '--kill-on-bad-exit=1') in pretrain
    assert 'train_dataloader.batch_size=128 --launcher slurm' in pretrain
    convert = next(b for b in blocks if b.startswith('2/21] mae/convert'))
    assert 'sbatch --nodes=1 --ntasks-per-node=1 ' in convert and 'gpus' not in convert
    det = next(b for b in blocks if b.startswith('5/21] mae/det_coco'))
    assert '--ntasks=8 ' in det and 'batch_size' not in det   # as its recipe: 8 processes
    cost = next(b for b in blocks if b.startswith('19/21] cost'))
    assert 'sbatch --nodes=1 --ntasks-per-node=1 ' in cost and '--gpus-per-node=1 ' in cost


def test_total_batch_is_kept_or_refused(tmp_path):
    from mixedae.pipeline.stages import total_batch_options
    config = ROOT / 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'
    key = 'train_dataloader.batch_size'
    assert total_batch_options(config, {}, 32) == {key: 128}
    assert total_batch_options(config, {}, 8) == {}        # the recipe's own world size
    assert total_batch_options(config, {}, 1) == {}        # one process keeps its batch
    assert total_batch_options(config, {key: 64}, 16) == {key: 32}
    with pytest.raises(ValueError, match=r'total batch 4096 \(8 x 512\) is not a multiple '
                       'of 48 processes'):
        total_batch_options(config, {}, 48)


def test_demo_slurm_config(monkeypatch):
    monkeypatch.chdir(ROOT)   # the config's paths are relative to the repository
    spec = load_spec(ROOT / 'configs' / 'pipelines' / 'demo_slurm.py')
    assert spec.slurm.resources['cpus_per_task'] == 1
    assert [m.name for m in spec.methods] == ['mae', 'naive_mix', 'mixedae', 'scratch']
