"""tools/run_pipeline.py on real stages: a whole tiny study, its re-run, an interrupted
study continued, a killed one, weights given as a file, the full study plan. The rules
(skip, resume, block, force, select) are tested on fake stages in tests/test_plan.py.

The study (conftest's ``study``, shared with tests/test_slurm.py) runs the demo pipeline
config (configs/pipelines/demo.py) with one method, two iterations per training stage and
the tiny datasets made in a temporary folder.
"""
import csv
import fcntl
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from timm.models.vision_transformer import VisionTransformer

from conftest import PUBLISHED, ROOT, TOOLS, demo_method, write_pipeline
from mixedae.pipeline import (Context, PipelineConfigError, Plan, executor_for, load_spec,
                              plan_stages, print_status)
from mixedae.pipeline.digest import config_digest, config_files
from mixedae.pipeline.process import error_excerpt
from mixedae.pipeline.progress import Progress, parse_eta, parse_iter_line
from mixedae.study import newest_run_with, run_dirs
from mixedae.tabulate.runs import scalars


def run_plan(spec, stages, out, only=(), force=()):
    """Run the stages with the study's executor; outcomes in stage order."""
    executor = executor_for(spec, Context(TOOLS, env=spec.env))
    return executor.run(Plan(stages, only, force), out, wait=True)


def test_study_runs_every_stage(study):
    cwd, result = study
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    root = cwd / 'study'
    for dataset in ('imagenet', 'coco', 'ade'):
        assert any((cwd / 'data' / 'tiny' / dataset).iterdir())
    for stage in ('pretrain', 'convert', 'cls_finetune/seed_0', 'cls_finetune/seed_1',
                  'cls_linear', 'det_coco', 'seg_ade20k'):
        state = json.loads((root / 'mixedae' / stage / 'stage.json').read_text())
        assert state['status'] == 'done', state
        assert all(Path(p).is_file() for p in state['outputs'].values()), state
        assert (root / 'mixedae' / stage / 'stage.log').stat().st_size > 0
    convert = json.loads((root / 'mixedae' / 'convert' / 'stage.json').read_text())
    assert sorted(convert['outputs']) == ['mmdet', 'mmpretrain']
    seg = json.loads((root / 'mixedae' / 'seg_ade20k' / 'stage.json').read_text())
    assert 'mIoU' in json.loads(Path(seg['outputs']['test_results']).read_text())
    # progress parsed from mmengine's log lines while the stages ran
    assert 'train iter 2/2' in result.stdout
    assert '[2/11] mixedae/pretrain' in result.stdout
    # one fine-tuning run per seed, each with its seed
    for seed in (0, 1):
        log = (root / 'mixedae' / 'cls_finetune' / f'seed_{seed}' / 'stage.log').read_text()
        assert f'randomness.seed={seed}' in log
    # the cost stage timed the method's training step at the study's shapes
    cost = json.loads((root / 'cost' / 'step_time.json').read_text())
    assert cost['methods']['mixedae']['batch'] == 8 and cost['repeats'] == 2
    assert cost['ratios'] == {}          # no baseline (mae) in this study: no ratio


def test_study_table_has_measured_results(study):
    cwd, result = study
    tables = cwd / 'study' / 'tables'
    for name in ('results.txt', 'results.md', 'results.csv', 'results.tex',
                 'deltas_vs_mae.png', 'accuracy_vs_cost.png', 'training_curves.png'):
        assert (tables / name).is_file(), name
        assert f'wrote {tables / name}' in result.stdout
    rows = list(csv.DictReader(io.StringIO((tables / 'results.csv').read_text())))
    measured = [row for row in rows if row['method'] == 'mixedae']
    assert len(measured) == 1 and measured[0]['provenance'].startswith('measured (pt 2 iters')
    for metric in ('ft_top1', 'lin_top1', 'ade_miou', 'coco_box', 'coco_mask', 'step_time_s'):
        assert measured[0][metric] != '', metric   # every task's metric was tabulated
    for metric in ('ft_top1', 'lin_top1', 'ade_miou', 'coco_box', 'coco_mask'):
        # ... with its interval from the per-sample results the evaluation kept
        low, value, high = (float(measured[0][f'{metric}{s}']) for s in ('_low', '', '_high'))
        assert low <= value + 1e-9 and value <= high + 1e-9, metric
    assert 'ft 2 iters x 2 seeds' in measured[0]['provenance']
    assert measured[0]['ft_top1_seeds'] == '2' and measured[0]['lin_top1_seeds'] == '1'
    text = (tables / 'results.txt').read_text()
    assert text in result.stdout
    assert 'bootstrap interval (1000 resamples, percentile) over the evaluation images' in text


def test_rerun_skips_every_stage(study, monkeypatch):
    cwd, _ = study
    monkeypatch.chdir(cwd)   # the study's relative paths (data/tiny) are as in its first run
    spec = load_spec(cwd / 'pipeline.py', cwd / 'study')
    stages = plan_stages(spec, PUBLISHED)
    out = io.StringIO()
    start = time.perf_counter()
    states = {s.name: (s.dir / 'stage.json').read_text() for s in stages}
    runs = {s.name: len(run_dirs(s.dir)) for s in stages}
    outcomes = run_plan(spec, stages, out)
    assert [o.status for o in outcomes] == ['skipped'] * len(stages), out.getvalue()
    assert time.perf_counter() - start < 10
    assert {s.name: (s.dir / 'stage.json').read_text() for s in stages} == states
    assert {s.name: len(run_dirs(s.dir)) for s in stages} == runs   # nothing ran
    assert out.getvalue().count('skipped: up to date') == len(stages)
    # so does tools/run_pipeline.py, which prints the table again
    result = subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'),
                             str(cwd / 'pipeline.py')], cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f'{len(stages)} skipped in ' in result.stdout
    assert (cwd / 'study' / 'tables' / 'results.txt').read_text() in result.stdout
    # a forced stage runs again; the stages that need its output follow, the others skip
    runs = len(run_dirs(cwd / 'study' / 'mixedae' / 'cls_linear'))
    outcomes = run_plan(spec, stages, out, only=['cls_linear', 'tabulate'],
                        force=['cls_linear'])
    assert [(o.stage.name, o.status) for o in outcomes] == [
        ('mixedae/cls_linear', 'done'), ('tabulate', 'done')]
    assert len(run_dirs(cwd / 'study' / 'mixedae' / 'cls_linear')) == runs + 1


def evaluation(stage_dir: Path) -> tuple[dict, dict]:
    """The metrics and the per-sample files (name -> sha256) of a stage's last
    validation."""
    path = newest_run_with(stage_dir, lambda run: run / 'per_sample' / 'val.json')
    manifest = json.loads(path.read_text())
    return manifest['metrics'], {role: f['sha256'] for role, f in manifest['files'].items()}


def test_rerun_of_a_stage_gives_the_same_results(study, monkeypatch):
    """Determinism on one machine: a detection and a segmentation stage run again give
    the same metrics and the same per-image results, bit for bit (detections, pixel
    areas)."""
    cwd, _ = study
    monkeypatch.chdir(cwd)
    spec = load_spec(cwd / 'pipeline.py', cwd / 'study')
    stages = plan_stages(spec, PUBLISHED)
    dirs = {n: cwd / 'study' / 'mixedae' / n for n in ('det_coco', 'seg_ade20k')}
    before = {n: evaluation(d) for n, d in dirs.items()}
    runs = {n: len(run_dirs(d)) for n, d in dirs.items()}
    out = io.StringIO()
    outcomes = run_plan(spec, stages, out, only=list(dirs), force=list(dirs))
    assert [o.status for o in outcomes] == ['done', 'done'], out.getvalue()
    assert {n: len(run_dirs(d)) for n, d in dirs.items()} == {
        n: runs[n] + (2 if n == 'seg_ade20k' else 1) for n in dirs}   # seg: train + test
    assert {n: evaluation(d) for n, d in dirs.items()} == before


def test_status_of_a_local_study(study, monkeypatch):
    cwd, _ = study
    monkeypatch.chdir(cwd)
    spec = load_spec(cwd / 'pipeline.py', cwd / 'study')
    stages = plan_stages(spec, PUBLISHED)
    out = io.StringIO()
    rows = executor_for(spec, Context(TOOLS)).status(stages)
    print_status(rows, out)
    assert [(r.stage.name, r.state, r.job) for r in rows] == [
        (s.name, 'done', '-') for s in stages]
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ['stage', 'job', 'state', 'elapsed', 'log']
    assert lines[2].split()[:3] == ['mixedae/pretrain', '-', 'done']
    assert lines[2].split()[-1] == str(cwd / 'study' / 'mixedae' / 'pretrain' / 'stage.log')


def test_interrupted_study_continues(study):
    """SIGTERM (as Ctrl-C) during pre-training stops it; the re-run resumes it from its
    last checkpoint instead of starting over, then runs what is left."""
    cwd, _ = study
    config = write_pipeline(cwd / 'interrupt.py', demo_method('mae'), {}, pretrain={
        'train_cfg.max_iters': 100, 'param_scheduler.1.end': 100,
        'default_hooks.checkpoint.interval': 10})
    command = [sys.executable, str(TOOLS / 'run_pipeline.py'), str(config),
               '--work-root', 'interrupted']
    stage_dir = cwd / 'interrupted' / 'mae' / 'pretrain'
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (stage_dir / 'last_checkpoint').is_file():
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.monotonic() < deadline, 'no checkpoint within 240 s'
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output[-3000:]
    assert 'interrupted: run the same command again' in output
    state = json.loads((stage_dir / 'stage.json').read_text())
    assert state['status'] == 'running'
    first_run = run_dirs(stage_dir)[0]
    stopped_at = max(r['iter'] for r in scalars(first_run) if 'loss' in r)
    assert stopped_at < 100

    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    state = json.loads((stage_dir / 'stage.json').read_text())
    assert state['status'] == 'done'
    assert Path(state['outputs']['checkpoint']).name == 'iter_100.pth'
    resumed = run_dirs(stage_dir)[0]
    iters = [r['iter'] for r in scalars(resumed) if 'loss' in r]
    assert 10 <= iters[0] - 1 <= stopped_at and iters[-1] == 100   # continued, not redone
    log = (stage_dir / 'stage.log').read_text()
    assert '=== resuming the interrupted attempt' in log and '--resume' in log
    assert (cwd / 'interrupted' / 'tables' / 'results.txt').is_file()


def test_one_run_per_study_root(study):
    cwd, _ = study
    with open(cwd / 'study' / '.run_pipeline.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)   # as a running pipeline does
        result = subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'),
                                 str(cwd / 'pipeline.py')], cwd=cwd, capture_output=True,
                                text=True, timeout=300)
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    assert f'another tools/run_pipeline.py is running on {cwd / "study"}' in result.stderr


def test_progress_lines():
    info = parse_iter_line('2024/01/01 12:00:00 - mmengine - INFO - Iter(train) '
                           '[120/300]  lr: 1.0e-03  eta: 0:00:18  time: 0.1  loss: 1.0')
    assert (info.mode, info.k, info.n, info.eta) == ('train', 120, 300, '0:00:18')
    info = parse_iter_line('Epoch(val) [3][ 10/40]    eta: 1 day, 2:03:04  time: 0.1')
    assert (info.mode, info.epoch, info.k, info.n) == ('val', 3, 10, 40)
    assert parse_eta(info.eta) == 86400 + 2 * 3600 + 3 * 60 + 4
    assert parse_iter_line('no iteration here') is None
    out = io.StringIO()
    progress = Progress(3, out)
    progress.record('pretrain', 100., trained=True)
    progress.record('convert', 2., trained=False)
    # pretrain (known) + convert (known) + a task without a finished stage (as training)
    assert progress.estimate([('pretrain', True), ('convert', False),
                              ('det_coco', True)]) == 202.
    assert progress.estimate([('tabulate', False)]) == 0.
    progress.start(2, 'mixedae/pretrain', [('pretrain', True), ('convert', False)])
    progress.update('Iter(train) [ 50/100]  eta: 0:00:50  time: 1.0')
    progress.finish('pretrain', 'done', 90., True)
    text = out.getvalue()
    assert '[2/3] mixedae/pretrain  (pipeline eta 0:01:42)' in text
    assert 'train iter 50/100, eta 0:00:50, pipeline eta 0:00:52' in text
    assert 'done in 0:01:30' in text


def test_stage_lines_name_their_stage_at_each_quarter():
    out = io.StringIO()
    sink = Progress(4, out, workers=2).stage_lines('mae/det_coco/seed_1')
    for k in (10, 20, 30, 60, 80, 100):
        sink(f'Iter(train) [{k:3d}/100]  eta: 0:00:{(100 - k) // 2:02d}')
    sink('Iter(val) [8/8]')
    sink('no iteration here')
    assert out.getvalue().splitlines() == [
        '    mae/det_coco/seed_1: train iter 10/100, eta 0:00:45',
        '    mae/det_coco/seed_1: train iter 30/100, eta 0:00:35',
        '    mae/det_coco/seed_1: train iter 60/100, eta 0:00:20',
        '    mae/det_coco/seed_1: train iter 80/100, eta 0:00:10',
        '    mae/det_coco/seed_1: train iter 100/100, eta 0:00:00']


def test_error_excerpt_skips_ignored_exceptions(tmp_path):
    log = tmp_path / 'stage.log'
    log.write_text('\n'.join([
        'Traceback (most recent call last):',
        '  File "train.py", line 3, in <module>',
        '    main()',
        '  File "mixing.py", line 16, in check',
        '    raise ValueError(...)',
        'ValueError: a balanced mixing mask needs mix_ratio=3 to divide 16',
        'Exception ignored in atexit callback: <function dump_compile_times>',
        'Traceback (most recent call last):',
        '  File "utils.py", line 925, in dump_compile_times',
        "TypeError: tabulate() got an unexpected keyword argument 'headers'"]))
    assert error_excerpt(log) == [
        'File "mixing.py", line 16, in check',
        'ValueError: a balanced mixing mask needs mix_ratio=3 to divide 16']


def test_methods_given_as_weights_and_from_scratch(study, monkeypatch):
    """``methods.<name> = dict(checkpoint=...)`` with an official MAE file (here labelled
    supervised, as a supervised ViT would be): no pre-training; the convert stage reads the
    file; the row names the file and its sha256; the file's stamp decides whether the
    conversion is up to date. ``checkpoint=None``: the same transfer from random
    initialisation, labelled so, with its delta against the baseline."""
    cwd, _ = study
    monkeypatch.chdir(cwd)   # reuse the tiny datasets of the study
    weights = cwd / 'mae_pretrain_vit_tiny.pth'
    torch.manual_seed(0)
    encoder = VisionTransformer(
        img_size=32, patch_size=8, embed_dim=64, depth=4, num_heads=4, num_classes=0)
    torch.save({'model': encoder.state_dict()}, weights)
    config = write_pipeline(cwd / 'given.py', {
        'mae': dict(checkpoint=str(weights), supervised=True),
        'scratch': dict(checkpoint=None)}, dict(cls_linear={}))
    spec = load_spec(config, cwd / 'given')
    stages = plan_stages(spec, PUBLISHED)
    assert [s.name for s in stages] == ['prepare', 'mae/convert', 'mae/cls_linear',
                                        'scratch/cls_linear', 'tabulate', 'report']
    out = io.StringIO()
    outcomes = run_plan(spec, stages, out)
    assert [o.status for o in outcomes] == ['done'] * 6, out.getvalue()
    sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()
    record = json.loads((cwd / 'given/mae/convert/weights.json').read_text())
    assert record['sha256'] == sha256 and record['file'] == weights.name
    assert record['format'].startswith('official MAE checkpoint') and record['supervised']
    rows = {r['method']: r for r in csv.DictReader(io.StringIO(
        (cwd / 'given/tables/results.csv').read_text()))}
    assert rows['mae']['provenance'] == (f'measured (lin 2 iters; supervised weights '
                                         f'{weights.name} sha256:{sha256[:12]})')
    assert rows['mae']['lin_top1'] != '' and rows['mae']['step_time_s'] == ''
    assert rows['scratch']['provenance'] == 'measured (lin 2 iters; random init)'
    assert rows['scratch']['lin_top1_delta_low'] != ''   # paired with the baseline
    log = (cwd / 'given/scratch/cls_linear/stage.log').read_text()
    assert 'model.backbone.init_cfg=None' in log
    convert = stages[1]
    assert [o.status for o in run_plan(spec, stages, out, only=['convert'])] == ['skipped']
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert run_plan(spec, stages, out, only=['convert'])[0].status == 'done'
    assert convert.signature(Context(TOOLS))['inputs'] == [[str(weights), stat.st_size,
                                                            stat.st_mtime_ns + 10**9]]


def test_full_study_dry_run_lists_stages():
    result = subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'),
                             'configs/pipelines/imagenet_vit-base.py', '--dry-run'],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout
    tasks = ['pretrain', 'convert', 'cls_finetune', 'cls_linear', 'det_coco', 'seg_ade20k']
    names = [f'{m}/{t}' for m in ('mae', 'naive_mix', 'mixedae') for t in tasks]
    for index, name in enumerate(names + ['cost', 'tabulate', 'report'], 1):
        assert f'[{index}/21] {name}  (' in text, name
    assert 'measure_cost.py configs/pipelines/imagenet_vit-base.py' in text
    assert 'torch.distributed.run --nproc_per_node=8' in text and '--launcher pytorch' in text
    assert 'configs/mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py' in text
    assert '<mixedae/convert:mmdet>' in text     # filled in once the conversion ran
    assert '<mixedae/convert:mmseg>' in text     # mmseg's MAE backbone for ADE20K
    assert 'then ' in text and 'tools/test.py' in text


def test_bad_pipeline_configs_are_named(tmp_path):
    good = dict(work_root='w', methods=dict(m=dict(config=str(ROOT / 'configs' / 'demo' /
                                                           'mae_vit-tiny-p8_1xb32-300i_tiny.py'))))
    cases = [
        (dict(good, method=dict()), r"top level: unknown key\(s\) \['method'\]"),
        (dict(good, methods=dict(m=dict(config='nope.py'))),
         r"methods.m.config: config file 'nope.py' does not exist"),
        (dict(good, methods=dict(tables=good['methods']['m'])),
         r'methods.tables: a method name is a folder name'),
        (dict(good, tasks=dict(det=dict(config='x', convert_to='mmdet'))),
         r"tasks.det: unknown task 'det'"),
        (dict(good, cfg_options=dict(pretrian={})), r'cfg_options.pretrian: no such stage'),
        (dict(good, cfg_options=dict(pretrain={'work_dir': 'a b'})),
         r"cfg_options.pretrain: work_dir='a b' cannot be passed as --cfg-options"),
        (dict(good, methods=dict(m=dict(checkpoint='nope.pth'))),
         r"methods.m.checkpoint: checkpoint file 'nope.pth' does not exist"),
        (dict(good, methods=dict(m=dict(good['methods']['m'], checkpoint=str(tmp_path)))),
         r'methods.m: a method is a pre-training config or a checkpoint, not both'),
        (dict(good, prepare=dict(tiny_datasets=dict(out='d', sizes=dict(coco_vall=3)))),
         r"prepare.tiny_datasets.sizes: unknown key\(s\) \['coco_vall'\]"),
        (dict(good, prepare=dict(tiny_datasets=dict(out='d', sizes=dict(coco_val=0)))),
         r'prepare.tiny_datasets.sizes.coco_val: expected an integer >= 1, got 0'),
    ]
    for index, (cfg, message) in enumerate(cases):
        path = tmp_path / f'bad{index}.py'
        Config(cfg).dump(str(path))
        with pytest.raises(PipelineConfigError, match=message) as info:
            load_spec(path)
        assert str(path) in str(info.value)


def test_config_digest_covers_the_inherited_files(tmp_path):
    """A stage's signature hashes its config and every local base (mmengine's reading of
    ``_base_``, recursively; ``mmpretrain::`` bases are installed, not hashed)."""
    tiny = ROOT / 'configs/demo/cls-finetune_vit-tiny-p8_tiny.py'
    assert [p.relative_to(ROOT).as_posix() for p in config_files(tiny)] == [
        'configs/demo/cls-finetune_vit-tiny-p8_tiny.py',
        'configs/benchmarks/classification/mixedae-vit-base-p16_8xb128-coslr-100e_in1k.py',
        'configs/_base_/classification_runtime.py', 'configs/_base_/vis_backends.py']
    (tmp_path / 'base').mkdir()
    base = tmp_path / 'base' / 'runtime.py'
    base.write_text('x = 1\n')
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['./base/runtime.py', 'mmpretrain::mae/mae_vit-base-p16_8xb512-"
                     "amp-coslr-300e_in1k.py']\ny = 2\n")
    before = config_digest(child)
    assert config_files(child) == [child, base]
    base.write_text('x = 3\n')
    assert config_digest(child) != before


def running(pid: int) -> bool:
    """One of the process's threads has not exited (a zombie has). Its main thread can be
    a zombie while others (a TensorBoard writer's) still run and hold its files."""
    try:
        return any(task.joinpath('stat').read_text().rsplit(')', 1)[1].split()[0] != 'Z'
                   for task in Path(f'/proc/{pid}/task').iterdir())
    except OSError:
        return False


def test_killed_pipeline_takes_its_training_along(study):
    """SIGKILL of tools/run_pipeline.py while it trains: the training holds the stage's
    lock too (it outlives the pipeline until the training exits) and is stopped by the
    parent-death signal; the stage is left to resume."""
    cwd, _ = study
    config = write_pipeline(cwd / 'killed.py', demo_method('mae'), {}, pretrain={
        'train_cfg.max_iters': 5000, 'param_scheduler.1.end': 5000})
    stage_dir = cwd / 'killed' / 'mae' / 'pretrain'
    proc = subprocess.Popen([sys.executable, str(TOOLS / 'run_pipeline.py'), str(config),
                             '--work-root', 'killed'], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        log = stage_dir / 'stage.log'
        while not (log.is_file() and 'Iter(train)' in log.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        lock = stage_dir / '.stage.lock'
        child = int(re.search(r'command pid (\d+)', lock.read_text())[1])
        fds = [os.readlink(fd) for fd in Path(f'/proc/{child}/fd').iterdir()]
        assert str(lock) in fds   # the training holds the lock as well
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 30
    while running(child):
        assert time.monotonic() < deadline, f'training {child} still runs 30 s after'
        time.sleep(0.05)
    with open(lock) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)   # free once the training is gone
    assert json.loads((stage_dir / 'stage.json').read_text())['status'] == 'running'
