"""The plan and the executors' decisions, on fake stages and a fake SLURM (mostly milliseconds):
which stages a study has, which are selected, forced, up to date, resumed or blocked, and
what the local and slurm executors do with them. The real runs (a local study, a study as
SLURM jobs, a requeued training) are tests/test_pipeline.py and tests/test_slurm.py."""
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from mmengine.config import Config

from conftest import ROOT, TOOLS, demo_task
from mixedae.pipeline import Context, Plan, load_spec, plan_stages
from mixedae.pipeline.executor import print_status
from mixedae.pipeline.local import LocalExecutor
from mixedae.pipeline.lock import stage_lock
from mixedae.pipeline.process import StageError
from mixedae.pipeline.slurm import (JobInfo, SlurmError, SlurmExecutor, StageJob,
                                    job_status, record_path)
from mixedae.pipeline.spec import PipelineConfigError
from mixedae.pipeline.stages import Attempt, PrepareTinyDatasets, Stage, TrainStage
from mixedae.study import read_state, write_state

PUBLISHED = ROOT / 'benchmarks' / 'published_results.json'
DEMO = ROOT / 'configs' / 'pipelines' / 'demo.py'


@dataclass
class FakeStage(Stage):
    """Writes ``out.txt`` holding ``value`` and the outputs of the stages it needs; fails
    while ``fail`` is set; records every run in ``runs``; waits at the barrier ``meet``
    (for a stage that must run at the same time)."""
    value: str = 'v'
    fail: bool = False
    runs: list = None
    meet: threading.Barrier = None
    trains = True

    def describe(self, ctx: Context) -> str:
        return f'fake {self.name}'

    def signature(self, ctx: Context) -> dict:
        inputs = [Path(ctx.output(n, 'out')).read_text() for n in self.needs]
        return {'value': self.value, 'inputs': inputs}

    def run(self, ctx: Context, attempt: Attempt) -> dict:
        self.runs.append((self.name, attempt.resume))
        if self.meet is not None:
            self.meet.wait()
        if self.fail:
            raise StageError(f'{self.name} failed on purpose')
        out = self.dir / 'out.txt'
        out.write_text(self.value + ''.join(Path(ctx.output(n, 'out')).read_text()
                                            for n in self.needs))
        return {'out': str(out)}


def fake_study(root: Path, **changes) -> list[FakeStage]:
    """a -> b -> c and a -> d, then the tables after all of them."""
    runs = []
    needs = {'a': (), 'b': ('a',), 'c': ('b',), 'd': ('a',)}
    stages = [FakeStage(name, root / name, name, deps, runs=runs, **changes.get(name, {}))
              for name, deps in needs.items()]
    tables = FakeStage('tables', root / 'tables', 'tabulate', runs=runs)
    tables.after_all = True
    return stages + [tables]


def local(root: Path) -> LocalExecutor:
    return LocalExecutor(spec=None, base=Context(TOOLS))   # it needs no study settings


def run(stages, root, only=(), force=()):
    out = io.StringIO()
    outcomes = local(root).run(Plan(stages, only, force), out)
    return {o.stage.name: o.status for o in outcomes}, out.getvalue()


# --- the plan -------------------------------------------------------------------------


def test_demo_plan_names_every_stage(monkeypatch):
    monkeypatch.chdir(ROOT)
    stages = plan_stages(load_spec(DEMO), PUBLISHED)
    tasks = ['pretrain', 'convert', 'cls_finetune', 'cls_linear',
             *(f'{task}/seed_{s}' for task in ('det_coco', 'seg_ade20k') for s in (0, 1, 2))]
    assert [s.name for s in stages] == ['prepare', *(f'{m}/{t}' for m in (
        'mae', 'naive_mix', 'mixedae') for t in tasks), *(f'scratch/{t}' for t in tasks[2:]),
        'cost', 'tabulate', 'report']
    root = ROOT / 'work_dirs' / 'demo'
    assert stages[2].dir == root / 'mae' / 'convert' and stages[-2].dir == root / 'tables'
    assert stages[3].needs == ('mae/convert',) and stages[-1].needs == ('tabulate',)


def write_config(tmp_path: Path, **changes) -> Path:
    demo = Config.fromfile(str(DEMO))
    cfg = dict(work_root=str(tmp_path / 'study'),
               methods={'mae': dict(config=str(ROOT / demo.methods.mae.config))},
               tasks={t: demo_task(demo, t) for t in ('cls_linear', 'det_coco')})
    cfg.update(changes)
    path = tmp_path / 'pipeline.py'
    Config(cfg).dump(str(path))
    return path


def test_seeds_make_one_stage_per_seed(tmp_path):
    config = write_config(tmp_path, seeds=[0, 1])
    cfg = Config.fromfile(str(config))
    cfg.tasks.det_coco.seeds = [3]
    cfg.dump(str(config))
    stages = {s.name: s for s in plan_stages(load_spec(config), PUBLISHED)}
    assert [n for n in stages if '/cls_' in n or '/det_' in n] == [
        'mae/cls_linear/seed_0', 'mae/cls_linear/seed_1', 'mae/det_coco/seed_3']
    seed1 = stages['mae/cls_linear/seed_1']
    assert seed1.dir == tmp_path / 'study' / 'mae' / 'cls_linear' / 'seed_1'
    assert seed1.cfg_options['randomness.seed'] == 1 and seed1.needs == ('mae/convert',)
    # --only a seed selects that seed of every task, a task all its seeds
    plan = Plan(list(stages.values()), only=['seed_1'])
    assert [s.name for s in plan.selected] == ['mae/cls_linear/seed_1']
    assert len(Plan(list(stages.values()), only=['cls_linear']).selected) == 2


def test_the_pipelines_env_is_part_of_a_training_signature(tmp_path):
    """Another `env` (threads, float kernels) trains again; a study without one keeps the
    signature it had before `env` took part."""
    def signatures(**changes):
        spec = load_spec(write_config(tmp_path, **changes))
        ctx = Context(TOOLS, env=spec.env,
                      outputs={'mae/convert': dict.fromkeys(('mmdet', 'mmpretrain'), str(weights))})
        return {s.name: s.signature(ctx) for s in plan_stages(spec, PUBLISHED)
                if isinstance(s, TrainStage)}

    weights = tmp_path / 'weights.pth'
    weights.write_bytes(b'converted')
    plain, pinned = signatures(), signatures(env=dict(OMP_NUM_THREADS='1'))
    other = signatures(env=dict(OMP_NUM_THREADS='2'))
    assert set(plain) == set(pinned) == {'mae/pretrain', 'mae/cls_linear', 'mae/det_coco'}
    for name in plain:
        assert 'env' not in plain[name] and pinned[name]['env'] == {'OMP_NUM_THREADS': '1'}
        assert plain[name] != pinned[name] != other[name]


def test_pretraining_seeds_make_one_chain_per_seed(tmp_path):
    demo = Config.fromfile(str(DEMO))
    config = write_config(tmp_path, methods={'mae': dict(
        config=str(ROOT / demo.methods.mae.config), seeds=[0, 1])})
    stages = {s.name: s for s in plan_stages(load_spec(config), PUBLISHED)}
    assert [n for n in stages if n.startswith('mae/')] == [
        f'mae/{stage}/seed_{s}' for s in (0, 1)
        for stage in ('pretrain', 'convert', 'cls_linear', 'det_coco')]
    assert stages['mae/pretrain/seed_1'].cfg_options['randomness.seed'] == 1
    assert stages['mae/convert/seed_1'].needs == ('mae/pretrain/seed_1',)
    det = stages['mae/det_coco/seed_1']
    assert det.checkpoint_from[0] == 'mae/convert/seed_1'
    assert det.dir == tmp_path / 'study' / 'mae' / 'det_coco' / 'seed_1'
    with pytest.raises(PipelineConfigError, match='mae/cls_linear, mae/det_coco: '
                       'pre-training seeds and transfer seeds together'):
        load_spec(write_config(tmp_path, seeds=[0], methods={'mae': dict(
            config=str(ROOT / demo.methods.mae.config), seeds=[0, 1])}))


def test_scratch_and_supervised_methods(tmp_path):
    weights = tmp_path / 'vit_sup.safetensors'
    weights.write_bytes(b'x')
    config = write_config(tmp_path, methods={
        'scratch': dict(checkpoint=None),
        'sup': dict(checkpoint=str(weights), supervised=True)})
    spec = load_spec(config)
    assert [(m.name, m.kind, m.supervised) for m in spec.methods] == [
        ('scratch', 'scratch', False), ('sup', 'weights', True)]
    stages = {s.name: s for s in plan_stages(spec, PUBLISHED)}
    # no pre-training, hence no cost stage; scratch has nothing to convert
    assert list(stages) == ['scratch/cls_linear', 'scratch/det_coco', 'sup/convert',
                            'sup/cls_linear', 'sup/det_coco', 'tabulate', 'report']
    scratch = stages['scratch/cls_linear']
    assert scratch.needs == () and scratch.checkpoint_from is None
    assert scratch.cfg_options['model.backbone.init_cfg'] is None   # random initialisation
    assert '--cfg-options' in scratch.describe(Context(TOOLS))
    assert 'model.backbone.init_cfg=None' in scratch.describe(Context(TOOLS))
    assert stages['sup/convert'].supervised


@pytest.mark.parametrize('changes, message', [
    (dict(seeds=[1, 1]), r'seeds: expected a non-empty list of distinct integers'),
    (dict(seeds=[]), r'seeds: expected a non-empty list'),
    (dict(methods={'x': dict(checkpoint=None, supervised=True)}),
     r'methods.x.supervised: random initialisation .* is not supervised'),
    (dict(methods={'x': dict()}), r'methods.x: give a pre-training config, a checkpoint'),
    (dict(methods={'x': dict(config=str(ROOT / 'configs/demo/mae_vit-tiny-p8_1xb32-300i_'
                                                'tiny.py'), supervised=True)}),
     r'methods.x.supervised: labels given weights'),
    (dict(executor=dict(type='slurm', stages={'*/pretrian': dict(nodes=2)})),
     r'executor.stages.\*/pretrian: matches no stage'),
])
def test_bad_configs_are_named(tmp_path, changes, message):
    config = write_config(tmp_path, **changes)
    with pytest.raises(PipelineConfigError, match=message) as error:
        plan_stages(load_spec(config), PUBLISHED)
    assert str(config) in str(error.value)


# --- decisions, with the local executor -------------------------------------------------


def test_local_runs_skips_and_reruns_on_change(tmp_path):
    stages = fake_study(tmp_path)
    outcomes, _ = run(stages, tmp_path)
    assert outcomes == dict.fromkeys(['a', 'b', 'c', 'd', 'tables'], 'done')
    assert (tmp_path / 'c' / 'out.txt').read_text() == 'vvv'
    stages[0].runs.clear()
    outcomes, text = run(stages, tmp_path)
    assert set(outcomes.values()) == {'skipped'} and stages[0].runs == []
    assert text.count('skipped: up to date') == 5
    # a changed stage runs again, and so does every stage whose input it changes
    changed = fake_study(tmp_path, b=dict(value='w'))
    outcomes, _ = run(changed, tmp_path)
    assert outcomes == {'a': 'skipped', 'b': 'done', 'c': 'done', 'd': 'skipped',
                        'tables': 'skipped'}
    assert (tmp_path / 'c' / 'out.txt').read_text() == 'vwv'


def test_failure_blocks_only_what_needs_it(tmp_path):
    stages = fake_study(tmp_path, b=dict(fail=True))
    outcomes, text = run(stages, tmp_path)
    assert outcomes == {'a': 'done', 'b': 'failed', 'c': 'blocked', 'd': 'done',
                        'tables': 'done'}
    assert 'FAILED b: b failed on purpose' in text and 'blocked: needs b' in text
    assert read_state(tmp_path / 'b')['status'] == 'failed'
    # fixed, the failed stage resumes (same signature) and the blocked one runs
    stages = fake_study(tmp_path)
    outcomes, _ = run(stages, tmp_path)
    assert outcomes['b'] == 'done' and outcomes['c'] == 'done'
    assert ('b', True) in stages[0].runs   # resumed the failed attempt


def test_workers_run_stages_at_once_in_order(tmp_path):
    """executor.workers = 2: b and d (each after a) run at the same time (each waits for
    the other at a barrier), c after b, the tables after everything; the lines name their
    stage; a failure still blocks only what needs it."""
    spec = load_spec(write_config(tmp_path, executor=dict(type='local', workers=2)))
    executor = LocalExecutor(spec, Context(TOOLS))
    meet = threading.Barrier(2, timeout=20)
    stages = fake_study(tmp_path / 'ok', b=dict(meet=meet), d=dict(meet=meet))
    out = io.StringIO()
    outcomes = executor.run(Plan(stages, (), ()), out)
    assert [(o.stage.name, o.status) for o in outcomes] == [
        (n, 'done') for n in ('a', 'b', 'c', 'd', 'tables')]
    order = [name for name, _ in stages[0].runs]
    assert order[0] == 'a' and set(order[1:3]) == {'b', 'd'} and order[-1] == 'tables'
    assert (tmp_path / 'ok' / 'c' / 'out.txt').read_text() == 'vvv'
    assert '    b: done in ' in out.getvalue() and '[5/5] tables' in out.getvalue()

    stages = fake_study(tmp_path / 'failing', b=dict(fail=True))
    outcomes = executor.run(Plan(stages, (), ()), out := io.StringIO())
    assert {o.stage.name: o.status for o in outcomes} == {
        'a': 'done', 'b': 'failed', 'c': 'blocked', 'd': 'done', 'tables': 'done'}
    assert 'c: blocked: needs b' in out.getvalue()


def test_interrupted_workers_stop_their_commands(tmp_path):
    """SIGTERM to a driver running two stages at once (their commands started from its
    threads): it stops both commands and leaves both stages to resume."""
    driver = tmp_path / 'driver.py'
    driver.write_text(textwrap.dedent(f"""
        import signal, sys
        from dataclasses import dataclass
        from pathlib import Path
        from types import SimpleNamespace
        from mixedae.pipeline import Context, Plan
        from mixedae.pipeline.local import LocalExecutor
        from mixedae.pipeline.stages import Stage

        @dataclass
        class Sleep(Stage):
            def describe(self, ctx): return 'sleep'
            def signature(self, ctx): return {{}}
            def run(self, ctx, attempt):
                attempt.run([sys.executable, '-c', 'import time; print("up", flush=True);'
                             ' time.sleep(300)'], 'sleep', {{}})
                return {{}}

        def interrupt(signum, frame):
            raise KeyboardInterrupt(signum)

        signal.signal(signal.SIGTERM, interrupt)
        root = Path({str(tmp_path)!r})
        stages = [Sleep(n, root / n, 'sleep') for n in ('a', 'b')]
        executor = LocalExecutor(SimpleNamespace(workers=2), Context(Path({str(TOOLS)!r})))
        executor.run(Plan(stages), sys.stdout)
    """))
    proc = subprocess.Popen([sys.executable, str(driver)], cwd=ROOT, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        locks = [tmp_path / n / '.stage.lock' for n in ('a', 'b')]
        # both commands started: their pids noted in the stage locks
        while not all(lock.is_file() and 'command pid' in lock.read_text() for lock in locks):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        commands = [int(re.search(r'command pid (\d+)', lock.read_text())[1])
                    for lock in locks]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) != 0
    finally:
        proc.kill()
    for pid in commands:
        assert not Path(f'/proc/{pid}').exists() or 'Z' in Path(
            f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[:1], pid
    assert [read_state(lock.parent)['status'] for lock in locks] == ['running', 'running']


def test_demo_pins_the_float_kernels():
    """The demo's environment makes torch (this build) run its AVX2 kernels, not AVX-512
    ones, on an x86-64 machine that has AVX2, and one OpenMP thread: the same kernels on
    every such machine (at demo scale another kernel set moves detection by points)."""
    env = Config.fromfile(ROOT / 'configs/pipelines/demo.py').env
    probe = ('import torch; print(torch.backends.cpu.get_cpu_capability(), '
             'torch.get_num_threads())')
    result = subprocess.run([sys.executable, '-c', probe], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120, check=True)
    capability, threads = result.stdout.split()
    flags = re.search(r'^flags\s*:(.*)$', Path('/proc/cpuinfo').read_text(), re.M)
    has_avx2 = flags is not None and 'avx2' in flags.group(1).split()
    assert capability == 'AVX2' if has_avx2 else capability != 'AVX512', capability
    assert threads == '1'


def test_workers_with_a_launcher_are_refused(tmp_path):
    with pytest.raises(PipelineConfigError, match=r'executor\.workers.*torchrun'):
        load_spec(write_config(tmp_path, executor=dict(type='local', workers=2),
                               launcher=dict(nproc_per_node=2)))
    with pytest.raises(PipelineConfigError, match=r'executor\.workers.*integer >= 1'):
        load_spec(write_config(tmp_path, executor=dict(type='local', workers=0)))


def test_interrupted_stage_resumes_and_forced_stage_starts_afresh(tmp_path):
    stages = fake_study(tmp_path)
    run(stages, tmp_path)
    state = read_state(tmp_path / 'b')
    write_state(tmp_path / 'b', {**state, 'status': 'running'})   # killed while running
    stages[0].runs.clear()
    outcomes, _ = run(stages, tmp_path, only=['b'])
    assert outcomes == {'b': 'done'} and stages[0].runs == [('b', True)]
    assert '=== resuming the interrupted attempt' in (tmp_path / 'b' / 'stage.log').read_text()
    stages[0].runs.clear()
    outcomes, _ = run(stages, tmp_path, only=['b', 'c'], force=['b'])
    assert outcomes == {'b': 'done', 'c': 'skipped'} and stages[0].runs == [('b', False)]


def test_only_uses_earlier_outputs_and_blocks_without_them(tmp_path):
    stages = fake_study(tmp_path)
    outcomes, _ = run(stages, tmp_path, only=['c'])
    assert outcomes == {'c': 'blocked'}
    run(stages, tmp_path, only=['a', 'b'])
    outcomes, _ = run(stages, tmp_path, only=['c'])
    assert outcomes == {'c': 'done'}
    (tmp_path / 'a' / 'out.txt').unlink()   # an output deleted since: its stage reruns
    assert run(stages, tmp_path, only=['a'])[0] == {'a': 'done'}


def test_stage_held_by_another_process_is_blocked(tmp_path):
    stages = fake_study(tmp_path)
    with stage_lock(tmp_path / 'a') as lock:
        lock.note('pipeline pid 1, command pid 2: tools/train.py')
        outcomes, text = run(stages, tmp_path, only=['a'])
    assert outcomes == {'a': 'blocked'}
    assert 'in use by another process (pipeline pid 1, command pid 2' in text
    assert read_state(tmp_path / 'a') is None


def test_status_of_local_stages(tmp_path):
    stages = fake_study(tmp_path, b=dict(fail=True))
    run(stages, tmp_path, only=['a', 'b'])
    write_state(tmp_path / 'd', {'stage': 'd', 'status': 'running', 'started': 0})
    rows = local(tmp_path).status(stages)
    assert [(r.stage.name, r.state) for r in rows] == [
        ('a', 'done'), ('b', 'failed'), ('c', 'not run'), ('d', 'interrupted'),
        ('tables', 'not run')]
    out = io.StringIO()
    print_status(rows, out)
    assert 'error: b failed on purpose' in out.getvalue()


# --- decisions, with the slurm executor on a fake SLURM ---------------------------------


class FakeScheduler:
    """Records what the executor asks of SLURM; ``refuse``: stage names sbatch refuses."""

    def __init__(self, refuse=()):
        self.jobs: dict[str, JobInfo] = {}
        self.requests = {}
        self.released, self.cancelled = [], []
        self.refuse = set(refuse)

    def query(self, job_ids):
        return {j: self.jobs[j] for j in job_ids if j in self.jobs}

    def submit(self, request):
        if request.stage.name in self.refuse:
            raise SlurmError(f'{request.stage.name}: SLURM refused the job: invalid partition')
        job_id = str(100 + len(self.requests))
        self.requests[job_id] = request
        self.jobs[job_id] = JobInfo(job_id, 'PENDING', 'JobHeldUser')
        return job_id, request.folder / f'{job_id}_log.out'

    def release(self, job_ids):
        self.released += job_ids
        for j in job_ids:
            self.jobs[j] = JobInfo(j, 'PENDING', 'Dependency')

    def cancel(self, job_ids):
        self.cancelled += job_ids
        for j in job_ids:
            self.jobs[j] = JobInfo(j, 'CANCELLED')

    def finish(self, job_id):
        """Run the job's stage as its job would (in this process)."""
        self.requests[job_id].job()
        self.jobs[job_id] = JobInfo(job_id, 'COMPLETED')


def slurm(tmp_path: Path, scheduler: FakeScheduler, **executor) -> SlurmExecutor:
    config = write_config(tmp_path, executor=dict(type='slurm', **executor))
    return SlurmExecutor(load_spec(config), Context(TOOLS), scheduler)


def submitted(scheduler: FakeScheduler) -> dict[str, str]:
    """stage -> dependency of every job submitted."""
    return {r.stage.name: r.dependency for r in scheduler.requests.values()}


def test_slurm_submits_with_dependencies_then_attaches(tmp_path):
    scheduler = FakeScheduler()
    executor = slurm(tmp_path, scheduler)
    stages = fake_study(tmp_path)
    out = io.StringIO()
    jobs = executor.submit(Plan(stages), out)
    assert submitted(scheduler) == {'a': None, 'b': 'afterok:100', 'c': 'afterok:101',
                                    'd': 'afterok:100', 'tables': 'afterany:100:101:102:103'}
    assert sorted(scheduler.released) == sorted(jobs.values())   # held, then released
    assert json.loads(record_path(stages[1]).read_text())['job_id'] == jobs['b']
    # a re-run while they are queued attaches to every job and submits nothing
    again = io.StringIO()
    assert executor.submit(Plan(stages), again) == jobs and len(scheduler.requests) == 5
    assert again.getvalue().count('attached to job') == 5
    # the jobs run (in order); then everything is up to date
    for job_id in sorted(jobs.values()):
        scheduler.finish(job_id)
    assert (tmp_path / 'c' / 'out.txt').read_text() == 'vvv'
    final = io.StringIO()
    assert executor.submit(Plan(stages), final) == {}
    assert final.getvalue().count('up to date') == 5
    assert [r.state for r in executor.status(stages)] == ['done'] * 5


def test_slurm_forced_stage_replaces_its_queued_job(tmp_path):
    scheduler = FakeScheduler()
    executor = slurm(tmp_path, scheduler)
    stages = fake_study(tmp_path)
    first = executor.submit(Plan(stages), io.StringIO())
    second = executor.submit(Plan(stages, force=['b']), io.StringIO())
    assert first['b'] in scheduler.cancelled and second['b'] != first['b']
    # c was queued behind the old b: it is replaced too, to wait for the new one
    assert first['c'] in scheduler.cancelled and second['c'] != first['c']
    assert scheduler.requests[second['c']].dependency == f'afterok:{second["b"]}'
    assert second['a'] == first['a']   # nothing changed for a


def test_slurm_refused_job_cancels_what_this_call_submitted(tmp_path):
    scheduler = FakeScheduler(refuse={'c'})
    executor = slurm(tmp_path, scheduler)
    with pytest.raises(SlurmError, match=r'c: SLURM refused the job: invalid partition\n'
                       r'\(the 2 job\(s\) submitted before it were held and are now '
                       r'cancelled: none ran\)'):
        executor.submit(Plan(fake_study(tmp_path)), io.StringIO())
    assert sorted(scheduler.cancelled) == ['100', '101'] and scheduler.released == []


def test_slurm_blocks_behind_a_failed_stage(tmp_path):
    stages = fake_study(tmp_path, b=dict(fail=True))
    run(stages, tmp_path, only=['a', 'b'])   # b failed earlier
    scheduler = FakeScheduler()
    out = io.StringIO()
    slurm(tmp_path, scheduler).submit(Plan(stages, only=['c']), out)
    assert 'c: blocked: needs b' in out.getvalue() and scheduler.requests == {}


def test_slurm_job_resources_and_context(tmp_path):
    executor = slurm(tmp_path, FakeScheduler(), gpus_per_node=8, cpus_per_task=10,
                     stages={'*/pretrain': dict(nodes=4)})
    stages = {s.name: s for s in plan_stages(executor.spec, PUBLISHED)}
    ctx = executor.context(stages['mae/pretrain'])
    assert ctx.srun == dict(nodes=4, ntasks_per_node=8, ntasks=32, cpus_per_task=10)
    assert executor.spec.world_size('mae/pretrain') == 32
    assert executor.context(stages['mae/convert']).srun is None   # one task, no GPU
    assert executor.job_line(stages['mae/convert']).startswith(
        'sbatch --nodes=1 --ntasks-per-node=1 ')
    assert '--gpus-per-node=8' in executor.job_line(stages['mae/cls_linear'])


def test_slurm_status_of_a_job_that_ended_while_its_stage_ran(tmp_path):
    stages = fake_study(tmp_path)
    scheduler = FakeScheduler()
    executor = slurm(tmp_path, scheduler)
    jobs = executor.submit(Plan(stages, only=['a']), io.StringIO())
    write_state(stages[0].dir, {'stage': 'a', 'status': 'running', 'job_id': jobs['a'],
                                'started': 0})
    scheduler.jobs[jobs['a']] = JobInfo(jobs['a'], 'TIMEOUT')
    (row,) = executor.status(stages[:1])
    assert (row.state, row.job) == ('failed', jobs['a'])
    assert row.error == f'job {jobs["a"]} ended (TIMEOUT) while the stage ran'
    queued = job_status(stages[1], {'job_id': '7', 'log': 'x'},
                        JobInfo('7', 'PENDING', 'Dependency', restarts=1))
    assert queued.state == 'requeued'


def test_job_wrapper_runs_its_stage_once_then_resumes_on_requeue(tmp_path, monkeypatch):
    stages = fake_study(tmp_path)
    plan = Plan(stages)
    job = StageJob(plan, stages[0], Context(TOOLS), force=True)
    monkeypatch.setenv('SLURM_JOB_ID', '42')
    assert job() == 'done' and read_state(stages[0].dir)['job_id'] == '42'
    monkeypatch.setenv('SLURM_RESTART_COUNT', '1')   # a requeued start is not forced
    assert job() == 'skipped'


# --- the driver -------------------------------------------------------------------------


def test_driver_options_add_up_and_unknown_patterns_are_refused(tmp_path):
    sys.path.insert(0, str(TOOLS))
    try:
        import run_pipeline
    finally:
        sys.path.remove(str(TOOLS))
    args = run_pipeline.parse_args([str(DEMO), '--force-stage', 'a', '--force-stage', 'b',
                                    'c', '--only', 'x', '--only', 'y'])
    assert args.force_stage == ['a', 'b', 'c'] and args.only == ['x', 'y']
    result = subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'), str(DEMO),
                             '--dry-run', '--only', 'mixedae/pretrian'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert 'error: no stage matches mixedae/pretrian; stages: prepare, mae/pretrain' in \
        result.stderr


HEAVY = ('torch', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg', 'submitit')


def imported_after(code: str) -> list[str]:
    """The heavy modules imported by a fresh Python that runs ``code``."""
    probe = (f'{code}\nimport json, sys\n'
             f'print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))')
    result = subprocess.run([sys.executable, '-c', probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_light_driver_imports_no_model_library():
    """--dry-run and --status of a local study, tools/tabulate.py and the SLURM job
    wrapper's module import none of torch, mmcv, mmpretrain, mmdet, mmseg, submitit."""
    driver = ('import sys, runpy; sys.argv = ["run_pipeline.py", "configs/pipelines/demo.py",'
              ' {!r}]\ntry:\n    runpy.run_path("tools/run_pipeline.py", run_name="__main__")'
              '\nexcept SystemExit:\n    pass')
    assert imported_after(driver.format('--dry-run')) == []
    assert imported_after(driver.format('--status')) == []
    assert imported_after('import runpy; runpy.run_path("tools/tabulate.py")') == []
    assert imported_after('import mixedae.pipeline.slurm') == []


def dry_run_blocks(config: str) -> dict[str, str]:
    """Stage name -> its block of ``tools/run_pipeline.py CONFIG --dry-run`` (name line
    and command)."""
    result = subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'), config,
                             '--dry-run'], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return {b.split('  (')[0].split('] ')[1]: b for b in result.stdout.split('\n[')[1:]}


def test_demo_with_seeds_lists_a_stage_per_seed():
    """configs/pipelines/demo_seeds.py (the demo, seeds = [0, 1]): --dry-run lists every
    transfer run twice, each with its seed."""
    blocks = dry_run_blocks('configs/pipelines/demo_seeds.py')
    demo = Config.fromfile(str(DEMO))
    for method in demo.methods:
        for task in demo.tasks:
            for seed in (0, 1):
                block = blocks[f'{method}/{task}/seed_{seed}']
                assert f'randomness.seed={seed}' in block
                assert f'work_dirs/demo_seeds/{method}/{task}/seed_{seed} ' in block


def test_cpu_study_lists_three_seeds_and_longer_dense_schedules():
    """configs/pipelines/cpu_study.py: MAE, MixedAE and scratch, every transfer run with
    seeds 0-2, detection 600 and segmentation 1600 iterations."""
    blocks = dry_run_blocks('configs/pipelines/cpu_study.py')
    iters = {'det_coco': 600, 'seg_ade20k': 1600, 'cls_finetune': None, 'cls_linear': None}
    for method in ('mae', 'mixedae', 'scratch'):
        for task, max_iters in iters.items():
            for seed in (0, 1, 2):
                block = blocks[f'{method}/{task}/seed_{seed}']
                assert f'randomness.seed={seed}' in block
                assert max_iters is None or f'train_cfg.max_iters={max_iters} ' in block
    assert not any(name.startswith('naive_mix/') for name in blocks)
    assert 'model.backbone.init_cfg=None' in blocks['scratch/det_coco/seed_2']


def test_tiny_datasets_are_remade_only_when_stale(tmp_path):
    """The prepare stage makes the datasets, leaves current ones alone, and remakes a
    folder made with another seed or generator (its tiny_dataset.json says)."""
    stage = PrepareTinyDatasets('prepare', tmp_path / 'prepare', 'prepare',
                                out=tmp_path / 'tiny', seed=0)
    ctx = Context(TOOLS)
    assert stage.stale(ctx) == ['imagenet', 'coco', 'ade20k']
    assert run([stage], tmp_path)[0] == {'prepare': 'done'}
    assert stage.stale(ctx) == []
    record = tmp_path / 'tiny' / 'coco' / 'tiny_dataset.json'
    assert json.loads(record.read_text()) == {'seed': 0, 'stamp': stage.stamp(ctx)}
    kept = (tmp_path / 'tiny' / 'imagenet').stat().st_ino
    record.write_text(json.dumps({'seed': 0, 'stamp': 'an older generator'}))
    assert stage.stale(ctx) == ['coco']
    assert 'to make: coco' in stage.describe(ctx)
    assert run([stage], tmp_path, force=['prepare'])[0] == {'prepare': 'done'}
    assert stage.stale(ctx) == [] and (tmp_path / 'tiny' / 'imagenet').stat().st_ino == kept


def test_tiny_dataset_sizes_are_part_of_the_record(tmp_path):
    """A study's own sizes are passed to the generator and make data of other sizes stale."""
    tiny = tmp_path / 'tiny'
    default = PrepareTinyDatasets('prepare', tmp_path / 'prepare', 'prepare', out=tiny)
    small = PrepareTinyDatasets('prepare', tmp_path / 'prepare', 'prepare', out=tiny,
                                sizes={'coco_val': 5, 'ade_val': 3})
    ctx = Context(TOOLS)
    assert default.stamp(ctx) != small.stamp(ctx)
    assert '--ade-val=3' in small.command(ctx, ['ade20k'])
    assert run([small], tmp_path)[0] == {'prepare': 'done'}
    assert small.stale(ctx) == [] and default.stale(ctx) == ['imagenet', 'coco', 'ade20k']
    val = json.loads((tiny / 'coco' / 'annotations' / 'instances_val2017.json').read_text())
    assert len(val['images']) == 5
