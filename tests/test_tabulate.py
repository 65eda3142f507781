"""Tests for mixedae.tabulate and tools/tabulate.py on work dirs written like mmengine's."""
import csv
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from mixedae.tabulate import (Row, TabulateError, collect, load_published,
                               matching_references, references_markdown, tabulate, to_text)
from mixedae.tabulate.curves import plot_training_curves, study_curves

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / 'benchmarks' / 'published_results.json'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def train_line(it: int, time: float, epoch: int = 0) -> dict:
    """A train line as mmengine 0.10.7's LoggerHook writes it to vis_data/scalars.json.

    Val lines hold the metrics, `data_time`, `time` and `step`; the test dump in
    `<run>/<run>.json` is one dict of the metrics, `data_time` and `time`, no newline.
    """
    line = {'lr': 0.0001, 'data_time': 0.01, 'loss': 0.5, 'time': time}
    if epoch:
        line['epoch'] = epoch
    return {**line, 'iter': it, 'step': it}


def write_run(task_dir: Path, stamp: str, train: tuple = (), val: tuple = (),
              test: dict = None) -> None:
    """One run folder: scalars.json (+ its <stamp>.json copy) and the test dump."""
    vis = task_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    lines = ''.join(json.dumps(r) + '\n' for r in (*train, *val))
    if lines:
        (vis / 'scalars.json').write_text(lines)
        (vis / f'{stamp}.json').write_text(lines)
    if test is not None:
        (task_dir / stamp / f'{stamp}.json').write_text(json.dumps(test))


@pytest.fixture
def study(tmp_path: Path) -> Path:
    root = tmp_path / 'study'
    # mae: pre-training at median 0.3 s/iter; fine-tune val 60.0 then a newer test run 61.5.
    write_run(root / 'mae' / 'pretrain', '20240101_000000',
              train=[train_line(10, 0.2), train_line(20, 0.4), train_line(30, 0.3)])
    write_run(root / 'mae' / 'cls_finetune', '20240102_000000',
              train=[train_line(4, 0.1, epoch=1)],
              val=[{'accuracy/top1': 55.0, 'data_time': 0.1, 'time': 0.2, 'step': 1},
                   {'accuracy/top1': 60.0, 'data_time': 0.1, 'time': 0.2, 'step': 1}])
    write_run(root / 'mae' / 'cls_finetune', '20240103_000000',
              test={'accuracy/top1': 61.5, 'data_time': 0.01, 'time': 0.02})
    write_run(root / 'mae' / 'det_coco', '20240102_000000', train=[train_line(2, 0.5)],
              val=[{'coco/bbox_mAP': 0.301, 'coco/segm_mAP': 0.255, 'data_time': 0.1,
                    'time': 0.2, 'step': 2}])
    write_run(root / 'mae' / 'seg_ade20k', '20240102_000000', train=[train_line(2, 0.5)],
              val=[{'aAcc': 70.0, 'mIoU': 40.12, 'mAcc': 50.0, 'data_time': 0.1,
                    'time': 0.2, 'step': 2}])
    # mixedae: 3 % slower; better fine-tune and box AP; no segmentation.
    write_run(root / 'mixedae' / 'pretrain', '20240101_000000',
              train=[train_line(10, 0.309), train_line(20, 0.5), train_line(30, 0.2)])
    write_run(root / 'mixedae' / 'cls_finetune', '20240102_000000',
              train=[train_line(4, 0.1, epoch=1)],
              test={'accuracy/top1': 62.0, 'data_time': 0.01, 'time': 0.02})
    write_run(root / 'mixedae' / 'det_coco', '20240102_000000', train=[train_line(2, 0.5)],
              test={'coco/bbox_mAP': 0.31, 'coco/segm_mAP': 0.25, 'data_time': 0.1,
                    'time': 0.2})
    # naive_mix: only pre-trained.
    write_run(root / 'naive_mix' / 'pretrain', '20240101_000000', train=[train_line(10, 0.6)])
    # the cost stage: mixedae 3 % slower, naive mixing twice as slow
    write_cost(root, {'mae': (1.0, 1.0, 1.0), 'mixedae': (1.03, 1.01, 1.05),
                      'naive_mix': (2.0, 1.9, 2.1)})
    return root


def write_cost(root: Path, ratios: dict) -> None:
    """ROOT/cost/step_time.json as tools/measure_cost.py writes it."""
    methods = {name: dict(batch=32, img_size=32, precision='fp32', seconds=0.05 * r[0],
                          wall_s=[0.05 * r[0]], cpu_s=[0.05 * r[0]])
               for name, r in ratios.items()}
    record = dict(device='cpu', device_name='cpu: Test CPU, 1 thread', clock='cpu',
                  baseline='mae', repeats=30, warmup=2, steps=4, torch='2.x',
                  methods=methods, failed={},
                  ratios={n: dict(median=m, low=lo, high=hi) for n, (m, lo, hi) in
                          ratios.items()})
    (root / 'cost').mkdir(parents=True, exist_ok=True)
    (root / 'cost' / 'step_time.json').write_text(json.dumps(record))


def by_method(rows: list) -> dict:
    return {r.method: r for r in rows}


def test_collect_values_deltas_and_cost(study):
    rows = by_method(collect(study))
    mae, mixed, naive = rows['mae'], rows['mixedae'], rows['naive_mix']
    assert mae.values == pytest.approx({'ft_top1': 61.5, 'coco_box': 30.1, 'coco_mask': 25.5,
                                        'ade_miou': 40.12, 'cost': 1.0})
    assert mae.step_time == pytest.approx(0.3)
    assert mixed.values['cost'] == pytest.approx(1.03)
    assert mixed.cost_range == (1.01, 1.05) and mixed.cost_device == 'cpu: Test CPU, 1 thread'
    assert mixed.step_time == pytest.approx(0.309)   # logged: information only
    assert mixed.delta('ft_top1') == pytest.approx(0.5)
    assert mixed.delta('coco_box') == pytest.approx(0.9)
    assert mixed.delta('coco_mask') == pytest.approx(-0.5)
    assert mixed.delta('ade_miou') is None and 'ade_miou' not in mixed.values
    assert mae.delta('ft_top1') is None
    assert naive.values == pytest.approx({'cost': 2.0})


def test_cost_only_from_the_side_by_side_measurement(study):
    """Without the cost stage's record the column is blank (logged step times of separate
    runs are no cost measure) and the notes say so; a corrupt record is named."""
    (study / 'cost' / 'step_time.json').unlink()
    rows = by_method(collect(study))
    assert all('cost' not in r.values and r.cost_range is None for r in rows.values())
    assert rows['mixedae'].step_time == pytest.approx(0.309)
    text = to_text(list(rows.values()))
    assert 'PT cost blank: no side-by-side measurement' in text
    (study / 'cost' / 'step_time.json').write_text('{"ratios": {"mae": 1}}')
    with pytest.raises(TabulateError, match=re.escape(
            f'{study / "cost" / "step_time.json"}: unreadable cost record')):
        collect(study)


def test_run_without_local_scalars_is_named(study):
    """A run whose config logs to TensorBoard only leaves its row empty there: the note
    names the run instead of showing a silently empty 'measured' row."""
    run = study / 'naive_mix' / 'cls_linear' / '20240105_000000' / 'vis_data'
    run.mkdir(parents=True)
    (run / 'events.out.tfevents.1704412800.host.1.0').write_bytes(b'')
    rows = by_method(collect(study))
    assert rows['naive_mix'].note == (
        'no vis_data/scalars.json in cls_linear/20240105_000000 (no LocalVisBackend in the '
        "config's visualizer?): nothing read there")
    assert rows['mae'].note == rows['mixedae'].note == ''
    assert 'no vis_data/scalars.json in cls_linear/20240105_000000' in to_text(
        list(rows.values()))


def test_provenance_labels_schedules(study):
    rows = by_method(collect(study))
    assert rows['mae'].provenance == 'measured (pt 30 iters, ft 1 epoch, det 2 iters, seg 2 iters)'
    assert rows['naive_mix'].provenance == 'measured (pt 10 iters)'


def test_text_table_cells(study):
    lines = {line.split()[0]: line for line in to_text(collect(study)).splitlines() if line}
    assert '62.00 (+0.50)' in lines['mixedae'] and '31.00 (+0.90)' in lines['mixedae']
    assert '1.03x [1.01-1.05]' in lines['mixedae'] and '0.309' in lines['mixedae']
    assert 'timed side by side in one process on cpu: Test CPU, 1 thread' in to_text(
        collect(study))
    assert '61.50' in lines['mae'] and '(+' not in lines['mae']


def test_outputs_written(study, tmp_path):
    text, written = tabulate([study], PUBLISHED, tmp_path / 'out')
    names = sorted(p.name for p in written)
    assert names == ['accuracy_vs_cost.png', 'deltas_vs_mae.png', 'results.csv',
                     'results.md', 'results.tex', 'training_curves.png']
    for png in (p for p in written if p.suffix == '.png'):
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    records = {r['method']: r for r in csv.DictReader((tmp_path / 'out/results.csv').open())}
    assert records['mixedae']['ade_miou'] == '' and records['mixedae']['ade_miou_delta'] == ''
    assert float(records['mixedae']['ft_top1_delta']) == pytest.approx(0.5)
    assert (records['mixedae']['cost_low'], records['mixedae']['cost_high']) == ('1.01', '1.05')
    assert records['mixedae']['cost_device'] == 'cpu: Test CPU, 1 thread'
    assert records['naive_mix']['ft_top1'] == ''
    assert set(records) == {'mae', 'mixedae', 'naive_mix'}   # no run_info: no reference
    md = (tmp_path / 'out/results.md').read_text()
    assert '| mixedae | measured (' in md and '1.03× [1.01-1.05]' in md
    tex = (tmp_path / 'out/results.tex').read_text()
    assert r'\begin{tabular}' in tex and r'naive\_mix' in tex and r'1.03$\times$' in tex


def test_several_roots_are_labelled(study, tmp_path):
    other = tmp_path / 'other'
    write_run(other / 'mae' / 'pretrain', '20240101_000000', train=[train_line(10, 1.0)])
    text, _ = tabulate([study, other], PUBLISHED, tmp_path / 'out')
    assert 'study/mixedae' in text and 'other/mae' in text


VIT_B = 'vit-base-p16'
STUDY_PROTOCOLS = {'cls_finetune': 'mmpretrain-mae-finetune',
                   'cls_linear': 'mmpretrain-mae-linear',
                   'det_coco': 'vitdet-mask-rcnn', 'seg_ade20k': 'mmseg-mae-upernet'}


def write_info(run: Path, **info) -> None:
    """run_info.json as mixedae.engine.RunInfoHook writes it."""
    (run / 'run_info.json').write_text(json.dumps(info))


def recipe_run(protocol: str, arch: str = VIT_B) -> tuple[dict, dict]:
    """run_info.json of a run that followed the protocol's published recipe (as
    RunInfoHook writes it), and its last train line (the end of the schedule)."""
    recipe = load_published(PUBLISHED).protocols[protocol].recipe
    schedule = recipe.value('schedule')[arch]
    total = recipe.value('total_batch')
    info = dict(protocol=protocol, arch=arch, schedule=schedule,
                batch=dict(recipe_total_batch=total, world_size=8, total_batch=total,
                           lr_scale=1.0, iteration_scale=1.0, batch_mismatch='error'),
                precision=recipe.value('precision'),
                eval_resize=[dict(type='Resize', interpolation=recipe.value('interpolation'))])
    last = (train_line(1000, 0.5, epoch=schedule['max_epochs']) if 'max_epochs' in schedule
            else train_line(schedule['max_iters'], 0.5))
    return info, last


def protocol_study(root: Path, epochs: int, reached: int = 0) -> Path:
    """mae and mixedae: ViT-B/16 pre-trained on an `epochs`-epoch schedule (logged up to
    epoch `reached`, default all), then the four transfer tasks of the full-study pipeline,
    each run following its protocol's recipe and recording it."""
    stamp = '20240101_000000'
    for method, top1 in (('mae', 83.0), ('mixedae', 83.4)):
        pretrain = root / method / 'pretrain'
        write_run(pretrain, stamp, train=[train_line(10, 0.3, epoch=reached or epochs)])
        write_info(pretrain / stamp, protocol=None, arch=VIT_B,
                   schedule={'max_epochs': epochs}, batch={})
        metrics = {'cls_finetune': {'accuracy/top1': top1},
                   'cls_linear': {'accuracy/top1': top1 - 17},
                   'det_coco': {'coco/bbox_mAP': 0.51, 'coco/segm_mAP': 0.45},
                   'seg_ade20k': {'mIoU': 48.0}}
        for task, protocol in STUDY_PROTOCOLS.items():
            info, last = recipe_run(protocol)
            write_run(root / method / task, stamp, train=[last],
                      val=[{**metrics[task], 'step': last['step']}])
            write_info(root / method / task / stamp, **info)
    return root


def reference_cells(refs: list) -> set:
    return {(r.provenance, *sorted(r.values.items())) for r in refs}


def test_collect_reads_protocols_backbone_and_length(tmp_path):
    rows = by_method(collect(protocol_study(tmp_path / 'pt', 1600)))
    assert rows['mixedae'].protocols == STUDY_PROTOCOLS
    assert (rows['mixedae'].arch, rows['mixedae'].pretrain_epochs) == (VIT_B, 1600)
    unfinished = by_method(collect(protocol_study(tmp_path / 'half', 1600, reached=800)))
    assert unfinished['mae'].pretrain_epochs is None        # stopped at 800 of 1600


def test_measured_rows_get_same_protocol_references_only(tmp_path):
    """The fixture tree of a 1600-epoch ViT-B study: beside it exactly the 1600-epoch
    ViT-B references of the four protocols its tasks ran; never the MAE paper's numbers
    (other protocols), the 800-epoch or ViT-L ones, or a derived MixedAE target."""
    root = protocol_study(tmp_path / 'study', 1600)
    published = load_published(PUBLISHED)
    measured = collect(root)
    refs = matching_references(measured, published)
    assert reference_cells(refs) == {
        ('published (mmpretrain-mae-finetune)', ('ft_top1', 83.5)),
        ('published (mmpretrain-mae-linear)', ('lin_top1', 67.1)),
        ('published (mmseg-mae-upernet)', ('ade_miou', 48.13)),
        ('published (vitdet-mask-rcnn)', ('coco_box', 51.6), ('coco_mask', 45.9)),
        ('published (vitdet-mask-rcnn)', ('coco_box', 51.6), ('coco_mask', 45.7))}
    for ref in refs:   # each one measured what some measured task measured
        (task, protocol), = ref.protocols.items()
        assert all(row.protocols[task] == protocol and row.arch == ref.arch
                   and row.pretrain_epochs == ref.pretrain_epochs for row in measured)
        assert ref.delta('ft_top1') is None and ref.source
    text, _ = tabulate([root], PUBLISHED, tmp_path / 'out')
    assert 'derived' not in text and '83.6' not in text and '50.3' not in text
    line = next(l for l in text.splitlines() if '45.90' in l or '45.9 ' in l)
    assert 'published (vitdet-mask-rcnn)' in line and 'mae det_coco, mixedae det_coco' in line
    assert (f'study: pre-trained {VIT_B}, 1600 epochs; protocols ft=mmpretrain-mae-finetune, '
            'lin=mmpretrain-mae-linear, det=vitdet-mask-rcnn, seg=mmseg-mae-upernet; '
            '5 published reference(s) of the same protocol and pre-training length') in text
    assert 'protocol vitdet-mask-rcnn: ViTDet Mask R-CNN' in text
    md = (tmp_path / 'out/results.md').read_text()
    assert '| MAE | published (mmseg-mae-upernet) |' in md and '48.13' in md


def test_references_follow_the_pretraining_length(tmp_path):
    """Two studies in one table: the 800-epoch one gets mmpretrain's 800-epoch rows and no
    detection or segmentation reference (none was published at 800 epochs); a study whose
    pre-training did not finish gets none."""
    roots = [protocol_study(tmp_path / 'pt800', 800),
             protocol_study(tmp_path / 'pt1600', 1600),
             protocol_study(tmp_path / 'unfinished', 1600, reached=400)]
    published = load_published(PUBLISHED)
    assert reference_cells(matching_references(collect(roots[0]), published)) == {
        ('published (mmpretrain-mae-finetune)', ('ft_top1', 83.3)),
        ('published (mmpretrain-mae-linear)', ('lin_top1', 65.1))}
    assert matching_references(collect(roots[2]), published) == []
    rows = []
    for root in roots:   # as tabulate() assembles them (without writing the plots)
        measured = collect(root, 'mae', root.name)
        rows += measured + matching_references(measured, published)
    text = to_text(rows)
    blocks = text.split('-' * 20)
    assert '83.3' in text and '65.1' in text and '83.5' in text
    pt800 = next(b for b in blocks if 'pt800/mae' in b)
    assert '83.5' not in pt800 and '51.6' not in pt800
    assert ('unfinished: pre-trained vit-base-p16, no finished epoch schedule recorded; '
            'protocols ') in text
    assert 'no published reference of the same protocol and pre-training length' in text


def test_derived_rows_stay_in_their_protocol():
    """MixedAE's published +0.9 AP box is added to MAE's 50.3 of the MAE paper's detection
    recipe only: a row of that recipe gets both, a ViTDet row neither."""
    published = load_published(PUBLISHED)
    derived = [r for r in published.references if r.provenance == 'derived']
    assert {(next(iter(r.protocols.values())), *r.values.items()) for r in derived} == {
        ('mae-paper-finetune', ('ft_top1', 83.9)),
        ('mae-paper-ade20k-upernet', ('ade_miou', 49.8)),
        ('mae-paper-coco-mask-rcnn', ('coco_box', 51.2))}
    row = Row('mixedae', 'measured', {'coco_box': 51.0}, study='s', arch=VIT_B,
              pretrain_epochs=1600, protocols={'det_coco': 'mae-paper-coco-mask-rcnn'})
    refs = by_method(matching_references([row], published))
    assert refs['MAE'].values == {'coco_box': 50.3}
    assert refs['MixedAE'].provenance == 'derived (mae-paper-coco-mask-rcnn)'
    assert refs['MixedAE'].delta('coco_box') == pytest.approx(0.9)
    row.protocols = {'det_coco': 'vitdet-mask-rcnn'}
    assert {r.method for r in matching_references([row], published)} == {'MAE'}
    assert all(r.source for r in published.references)


@pytest.mark.parametrize('entry, message', [
    (dict(method='MixedAE', protocol='vitdet-mask-rcnn', arch=VIT_B, pretrain_epochs=1600,
          relative_to='MAE', deltas={'coco_box': 0.9}, source='x'),
     'never carried across protocols'),
    (dict(method='MAE', protocol='vitdet-mask-rcnn', arch=VIT_B, pretrain_epochs=1600,
          values={'ft_top1': 80.0}, source='x'),
     "metric 'ft_top1' is not a det_coco metric"),
    (dict(method='MAE', protocol='vitdet-mask-rcnn', arch=VIT_B, pretrain_epochs=1600,
          values={'coco_box': 50.0}),
     "missing 'source'"),
    (dict(method='MAE', protocol='nope', arch=VIT_B, pretrain_epochs=1600,
          values={'coco_box': 50.0}, source='x'),
     "protocol 'nope' is not in"),
])
def test_bad_references_are_named(tmp_path, entry, message):
    data = json.loads(PUBLISHED.read_text())
    data['references'] = [dict(method='MAE', protocol='mae-paper-coco-mask-rcnn', arch=VIT_B,
                               pretrain_epochs=1600, values={'coco_box': 50.3},
                               source='x'), entry]
    path = tmp_path / 'published.json'
    path.write_text(json.dumps(data))
    with pytest.raises(TabulateError, match=re.escape(f'{path}: references[1]')) as info:
        load_published(path)
    assert message in str(info.value)


def test_published_reference_table_is_the_published_file():
    """The table of published references (docs/published.md) is rendered from the JSON file."""
    table = references_markdown(load_published(PUBLISHED))
    assert table in (REPO / 'docs' / 'published.md').read_text()


def test_corrupt_line_names_file_and_line(study):
    path = study / 'mae' / 'pretrain' / '20240101_000000' / 'vis_data' / 'scalars.json'
    path.write_text(path.read_text() + '{"lr": 0.1, "ti\n')
    with pytest.raises(TabulateError, match=re.escape(f'{path}:4: corrupt JSON line')):
        collect(study)


def test_errors_name_the_path(tmp_path):
    with pytest.raises(TabulateError, match=re.escape(f'{tmp_path / "missing"}: work dir')):
        collect(tmp_path / 'missing')
    (tmp_path / 'empty' / 'mae' / 'unknown_task').mkdir(parents=True)
    with pytest.raises(TabulateError, match=re.escape(f'{tmp_path / "empty"}: no <method>')):
        collect(tmp_path / 'empty')


def test_cli(study, tmp_path, monkeypatch, capsys):
    tool = REPO / 'tools' / 'tabulate.py'
    missing = tmp_path / 'missing'
    failed = subprocess.run([sys.executable, str(tool), str(missing)], capture_output=True,
                            text=True)
    assert failed.returncode == 1
    assert failed.stderr == f'error: {missing}: work dir does not exist\n'  # nothing else
    monkeypatch.setattr(sys, 'argv', [str(tool), str(study)])
    runpy.run_path(str(tool), run_name='__main__')
    out = capsys.readouterr().out
    assert '62.00 (+0.50)' in out
    assert f'wrote {study / "tables" / "deltas_vs_mae.png"}' in out
    assert (study / 'tables' / 'accuracy_vs_cost.png').is_file()


def test_runs_given_one_by_one(study, tmp_path):
    """Runs made elsewhere join the first root's study (replacing that task) or form one of
    their own; a work_dir stands for its newest run; errors name the path."""
    outside = tmp_path / 'work_dirs' / 'upernet_mae'
    write_run(outside, '20240105_000000', train=[train_line(8, 0.5)],
              val=[{'mIoU': 41.0, 'aAcc': 70.0, 'mAcc': 50.0, 'step': 8}])
    run = outside / '20240105_000000'
    rows = by_method(collect(study, runs={'mae': {'seg_ade20k': run},
                                          'mixedae': {'seg_ade20k': outside}}))
    assert rows['mae'].values['ade_miou'] == 41.0 and rows['mixedae'].delta('ade_miou') == 0
    assert rows['mae'].provenance.endswith('seg 8 iters)')
    alone = by_method(collect(None, runs={'mae': {'seg_ade20k': run}}))
    assert list(alone) == ['mae'] and alone['mae'].values == {'ade_miou': 41.0}
    for runs, message in (({'mae': {'seg': run}}, '--run mae:seg: unknown task'),
                          ({'mae': {'seg_ade20k': tmp_path / 'x'}}, f'{tmp_path / "x"}: run '
                                                                    'folder does not exist'),
                          ({'mae': {'seg_ade20k': tmp_path}}, f'{tmp_path}: neither')):
        with pytest.raises(TabulateError, match=re.escape(message)):
            collect(None, runs=runs)


def test_weights_record_in_provenance(study):
    convert = study / 'naive_mix' / 'convert'
    convert.mkdir()
    (convert / 'weights.json').write_text(json.dumps(
        {'file': 'mae_pretrain_vit_base.pth', 'sha256': 'ab' * 32}))
    rows = by_method(collect(study))
    assert rows['naive_mix'].provenance == ('measured (pt 10 iters; weights '
                                            'mae_pretrain_vit_base.pth sha256:abababababab)')
    (convert / 'weights.json').write_text('{"file": 1')
    with pytest.raises(TabulateError, match=re.escape(f'{convert / "weights.json"}: unread')):
        collect(study)


@pytest.mark.slow
def test_run_made_with_mmseg_tools_train_appears_through_run(tmp_path, monkeypatch, capsys):
    """mmseg's own tools/train.py (shipped in the package) on the tiny ADE20K config with
    official MAE weights converted for it; tools/tabulate.py --run puts it in a table."""
    import torch
    from mmengine.utils import get_installed_path
    from mixedae.convert import convert_checkpoint
    from mixedae.data import make_tiny_ade20k
    from test_convert_sources import timm_vit
    make_tiny_ade20k(tmp_path / 'ade', seed=0, num_train=2, num_val=1, size=64)
    data_root = tmp_path / 'ade' / 'ADEChallengeData2016'
    torch.save({'model': timm_vit(depth=4).state_dict()}, tmp_path / 'mae_pretrain.pth')
    convert_checkpoint(str(tmp_path / 'mae_pretrain.pth'), 'mmpretrain', str(tmp_path / 'cls.pth'))
    work_dir = tmp_path / 'work_dirs' / 'seg-ade20k_vit-tiny-p8_tiny'
    train = Path(get_installed_path('mmseg')) / '.mim' / 'tools' / 'train.py'
    options = [f'model.backbone.init_cfg.checkpoint={tmp_path / "cls.pth"}',
               'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
               'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
               *(f'{s}_dataloader.dataset.data_root={data_root}' for s in ('train', 'val',
                                                                          'test'))]
    done = subprocess.run([sys.executable, str(train),
                           str(REPO / 'configs/demo/seg-ade20k_vit-tiny-p8_tiny.py'),
                           '--work-dir', str(work_dir), '--cfg-options', *options],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, 'PYTHONPATH': str(REPO), 'OMP_NUM_THREADS': '1'})
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = [p for p in work_dir.iterdir() if p.is_dir()]
    logged = [json.loads(line) for line in (run / 'vis_data' / 'scalars.json').open()]
    miou = [r['mIoU'] for r in logged if 'mIoU' in r][-1]

    tool = REPO / 'tools' / 'tabulate.py'
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', [str(tool), '--run',
                                      f'mae:seg_ade20k={run.relative_to(tmp_path)}'])
    runpy.run_path(str(tool), run_name='__main__')
    assert f'wrote {Path("tables") / "results.csv"}' in capsys.readouterr().out
    records = {r['method']: r for r in csv.DictReader((tmp_path / 'tables/results.csv').open())}
    assert float(records['mae']['ade_miou']) == pytest.approx(miou)
    assert records['mae']['provenance'] == 'measured (seg 2 iters)'


def test_importable_without_mmdet_mmseg():
    """mixedae.tabulate needs only the standard library, numpy and matplotlib."""
    code = ('import sys, mixedae.tabulate; '
            'print(sorted(m for m in ("mmdet", "mmseg", "mmengine", "torch") if m in sys.modules))')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == '[]'


def run_mmengine(work_dir: Path, name: str, by_epoch: bool, top1: float) -> None:
    """Train and test a toy model with a real mmengine Runner on CPU (val top-1 = top1 - 5)."""
    torch = pytest.importorskip('torch')
    pytest.importorskip('mmengine')
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 1)

        def forward(self, inputs, mode='tensor'):
            out = self.fc(inputs)
            return {'loss': out.pow(2).mean()} if mode == 'loss' else list(out)

    class Top1(BaseMetric):
        def __init__(self, value):
            super().__init__(prefix='accuracy')
            self.value = value

        def process(self, data_batch, data_samples):
            self.results.append(self.value)

        def compute_metrics(self, results):
            return {'top1': results[0]}

    loader = dict(dataset=[dict(inputs=torch.ones(2))] * 8, batch_size=2,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    train_cfg = dict(by_epoch=True, max_epochs=2) if by_epoch else \
        dict(by_epoch=False, max_iters=6, val_interval=3)
    runner = Runner(model=Toy(), work_dir=str(work_dir), experiment_name=name,
                    train_dataloader=loader, val_dataloader=loader, test_dataloader=loader,
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                    train_cfg=train_cfg, val_cfg=dict(), test_cfg=dict(),
                    val_evaluator=[Top1(top1 - 5)], test_evaluator=[Top1(top1)],
                    log_processor=dict(by_epoch=by_epoch),
                    default_hooks=dict(logger=dict(type='LoggerHook', interval=2),
                                       checkpoint=None))
    runner.train()
    runner.test()


def test_reads_real_mmengine_work_dirs(tmp_path):
    root = tmp_path / 'real'
    run_mmengine(root / 'mae' / 'pretrain', 'mae_pt', by_epoch=False, top1=10.0)
    run_mmengine(root / 'mae' / 'cls_finetune', 'mae_ft', by_epoch=False, top1=42.5)
    run_mmengine(root / 'mixedae' / 'cls_finetune', 'mixedae_ft', by_epoch=True, top1=43.0)
    rows = by_method(collect(root))
    assert rows['mae'].provenance == 'measured (pt 6 iters, ft 6 iters)'
    assert rows['mae'].values == pytest.approx({'ft_top1': 42.5})   # no cost stage here
    assert rows['mae'].step_time > 0
    assert rows['mixedae'].provenance == 'measured (ft 2 epochs)'
    assert rows['mixedae'].delta('ft_top1') == pytest.approx(0.5)


def test_tools_folder_does_not_shadow_pypi_tabulate():
    """Scripts in tools/ put tools/ on sys.path; `import tabulate` (torch's dynamo and flop
    counter do it) must still get PyPI's package, or ImportError where it is absent."""
    code = (f'import sys; sys.path.insert(0, {str(REPO / "tools")!r})\n'
            'try:\n    import tabulate\nexcept ImportError:\n    print("absent")\n'
            'else:\n    print(tabulate.__file__)\n'
            'from torch._dynamo.utils import tabulate as table\n'
            'print(table([[1, 2]], headers=("a", "b")).split()[0])')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split()
    assert first == 'absent' or 'site-packages' in first
    assert second in ('a', 'a,')


def test_training_curves_follow_resumes(tmp_path):
    """A resumed run replaces the lines from its first iteration on; the chance level 1/r
    comes from the dumped config read as text (never run)."""
    task = tmp_path / 'study' / 'mixedae' / 'pretrain'

    def lines(iters):
        return [dict(train_line(i, 0.1), loss_rec=1 / i, loss_hc=0.2, homo_acc=0.3)
                for i in iters]
    write_run(task, '20240101_000000', train=lines([10, 20, 30]))
    write_run(task, '20240102_000000', train=lines([30, 40]))   # resumed at iteration 20
    (task / '20240102_000000' / 'vis_data' / 'config.py').write_text(
        "raise SystemExit('never run')\nmodel = dict(\n    backbone=dict(\n"
        "        type='MixedAEViT', mix_ratio=4))\n")
    write_run(tmp_path / 'study' / 'mae' / 'pretrain', '20240101_000000',
              train=[train_line(10, 0.1)])
    curves = {c.method: c for c in study_curves(tmp_path / 'study')}
    mixed, mae = curves['mixedae'], curves['mae']
    assert mixed.series['loss_rec'] == ([10, 20, 30, 40], [0.1, 0.05, 1 / 30, 0.025])
    assert sorted(mixed.series) == ['homo_acc', 'loss', 'loss_hc', 'loss_rec']
    assert mixed.mix_ratio == 4 and not mixed.only_loss()
    assert mae.only_loss() and mae.mix_ratio is None      # MAE: its loss is reconstruction
    png = tmp_path / 'curves.png'
    plot_training_curves(list(curves.values()), png, 'study')
    assert png.read_bytes().startswith(PNG_SIGNATURE)


# --- intervals from per-sample results ---------------------------------------------------


def write_cls_run(task_dir: Path, correct, stamp: str = '20240102_000000',
                  ids=None, logged=None) -> None:
    """A linear-probe run whose last validation kept its per-image correctness (as
    mixedae.evaluation.PerSampleHook writes it: the arrays, then the manifest);
    ``logged``: the top-1 its log and manifest hold, if not the exact one."""
    import hashlib
    import numpy as np
    correct = np.asarray(correct, np.uint8)
    top1 = 100.0 * correct.mean() if logged is None else logged
    write_run(task_dir, stamp, train=[train_line(2, 0.1)],
              val=[{'accuracy/top1': top1, 'data_time': 0.1, 'time': 0.2, 'step': 2}])
    folder = task_dir / stamp / 'per_sample'
    folder.mkdir()
    n = len(correct)
    ids = np.array([f'val/{i:04d}.png' for i in range(n)]) if ids is None else ids
    np.savez(folder / 'val-iter_2.npz', image_ids=ids, gt_label=np.zeros(n, np.int64),
             pred_label=1 - correct.astype(np.int64), correct=correct[:, None])
    sha = hashlib.sha256((folder / 'val-iter_2.npz').read_bytes()).hexdigest()
    (folder / 'val.json').write_text(json.dumps(dict(
        format='mixedae-per-sample/1', kind='classification', mode='val',
        step=dict(iter=2), metrics={'accuracy/top1': top1}, metric_keys=['accuracy/top1'],
        class_names=['a', 'b'], num_images=n, ids=dict(where='arrays:image_ids',
                                                        meaning='path'),
        files=dict(arrays=dict(name='val-iter_2.npz', sha256=sha)),
        settings=dict(topk=[1], thrs=[0.0]))))


def test_cells_carry_intervals_and_paired_deltas(tmp_path):
    """A planted difference (80 % vs 60 % on the same 400 images) is marked, an
    identical method's delta is exactly 0 and unmarked, seeds are averaged and counted,
    and a run without per-sample results keeps its number and says why it has no
    interval."""
    import numpy as np
    rng = np.random.default_rng(0)
    base = rng.random(400) < 0.6
    better = base | (rng.random(400) < 0.5)           # every image mae gets, and more
    root = tmp_path / 'study'
    write_cls_run(root / 'mae' / 'cls_linear', base)
    write_cls_run(root / 'same' / 'cls_linear', base)
    write_cls_run(root / 'mixedae' / 'cls_linear' / 'seed_0', better)
    write_cls_run(root / 'mixedae' / 'cls_linear' / 'seed_1', better | (rng.random(400) < .1))
    write_run(root / 'old' / 'cls_linear', '20240102_000000', train=[train_line(2, 0.1)],
              val=[{'accuracy/top1': 50.0, 'data_time': 0.1, 'time': 0.2, 'step': 2}])
    from mixedae.tabulate import Bootstrap, study_rows
    rows = by_method(study_rows([root], PUBLISHED, bootstrap=Bootstrap(resamples=400)))
    mae, same, mixedae, old = rows['mae'], rows['same'], rows['mixedae'], rows['old']
    assert mae.intervals['lin_top1'].low < mae.values['lin_top1'] < \
        mae.intervals['lin_top1'].high
    assert 'lin_top1' not in mae.paired                 # the baseline has no delta
    assert same.paired['lin_top1'].value == 0 and not same.paired['lin_top1'].resolved
    assert same.paired['lin_top1'].low <= 0 <= same.paired['lin_top1'].high
    paired = mixedae.paired['lin_top1']
    assert paired.resolved and paired.low > 0 and paired.p_value < 0.05
    assert mixedae.intervals['lin_top1'].seeds == 2 and mixedae.seeds['cls_linear'] == 2
    assert mixedae.provenance == 'measured (lin 2 iters x 2 seeds)'
    assert mixedae.values['lin_top1'] == pytest.approx(
        100 * (better.mean() + (better | (rng.random(400) < .1)).mean()) / 2, abs=2)
    assert old.values['lin_top1'] == 50.0 and old.intervals == {}
    assert 'no per-sample results in' in old.no_interval['lin_top1']
    text = to_text(list(rows.values()))
    cell = next(line for line in text.splitlines() if line.startswith('mixedae'))
    assert re.search(r'\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \(\+\d+\.\d\d \[\+\d+\.\d\d, '
                     r'\+\d+\.\d\d\]\*\)', cell), cell
    assert '(+0.00 [+0.00, +0.00])' in next(line for line in text.splitlines()
                                           if line.startswith('same'))
    assert '95% bootstrap interval (400 resamples, percentile) over the evaluation images ' \
        '(400 per task); with seeds (S = 1, 2)' in text
    assert 'no interval for old lin_top1: no per-sample results in' in text


def test_deltas_on_other_images_are_refused(tmp_path):
    import numpy as np
    root = tmp_path / 'study'
    write_cls_run(root / 'mae' / 'cls_linear', np.ones(50))
    write_cls_run(root / 'other' / 'cls_linear', np.ones(50),
                  ids=np.array([f'other/{i}.png' for i in range(50)]))
    from mixedae.tabulate import Bootstrap, study_rows
    rows = by_method(study_rows([root], PUBLISHED, bootstrap=Bootstrap(resamples=100)))
    assert 'lin_top1' in rows['other'].intervals and rows['other'].paired == {}
    assert 'evaluated on different images' in rows['other'].no_interval['lin_top1 delta']


def test_value_is_the_one_the_interval_surrounds(tmp_path):
    """A logged value rounded (as COCO's AP is, to 0.1 points) is replaced by the one
    recomputed from the per-sample results, which its interval surrounds even where the
    interval is narrower than the rounding; a logged value further off is not given an
    interval."""
    import numpy as np
    correct = np.zeros(3000)
    correct[:1] = 1                                     # 0.0333 %: logged as 0.0
    root = tmp_path / 'study'
    write_cls_run(root / 'mae' / 'cls_linear', correct, logged=0.0)
    write_cls_run(root / 'off' / 'cls_linear', correct, logged=1.0)
    from mixedae.tabulate import Bootstrap, study_rows
    rows = by_method(study_rows([root], PUBLISHED, bootstrap=Bootstrap(resamples=200)))
    mae = rows['mae']
    assert mae.values['lin_top1'] == pytest.approx(100 / 3000)
    assert mae.intervals['lin_top1'].low <= mae.values['lin_top1'] <= \
        mae.intervals['lin_top1'].high
    assert rows['off'].values['lin_top1'] == 1.0 and rows['off'].intervals == {}
    assert 'recomputed from the per-sample results 0.03333, logged 1' in \
        rows['off'].no_interval['lin_top1']


def test_findings_name_a_failed_positive_control():
    """Random initialisation ahead of pre-training on a metric is a failed control, not a
    control 'told apart'; deltas of other methods there say so; single-run intervals say
    what they do not cover."""
    from mixedae.tabulate.findings import study_findings
    from mixedae.tabulate.rows import PairedDelta, Row, Spread
    spread = Spread(0.0, 1.0, 1, 100, 0.95, 1000)
    mae = Row('mae', 'measured (lin 2 iters)')
    scratch = Row('scratch', 'measured (lin 2 iters; random init)', baseline=mae,
                  intervals=dict(lin_top1=spread, coco_mask=spread),
                  paired=dict(lin_top1=PairedDelta(-10, -14, -6, 0.0, 1000),
                              coco_mask=PairedDelta(6, 3, 9, 0.0, 1000)))
    mixedae = Row('mixedae', 'measured (lin 2 iters)', baseline=mae,
                  intervals=dict(coco_mask=spread),
                  paired=dict(coco_mask=PairedDelta(4, 1, 7, 0.01, 1000)))
    lines = study_findings([mae, scratch, mixedae])
    assert lines[0] == ('Positive control (scratch, random initialisation): pre-training '
                        '(mae) is ahead of it on 1 of 2 metrics (lin_top1).')
    assert 'The control fails on coco_mask: random initialisation is ahead of mae' in lines[1]
    assert any(line.startswith('mixedae - mae on COCO AP mask: +4.00 [+1.00, +7.00]: '
                               'resolved, mixedae ahead') and
               line.endswith('(a metric the positive control did not pass)') for line in lines)
    assert any(line.startswith('One run per method on coco_mask, lin_top1') for line in lines)
