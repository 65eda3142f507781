"""A published reference stands beside a measured task only if its run matched the
protocol's recipe (total batch, finished schedule, precision, evaluation interpolation);
otherwise the row's note names each difference. Synthetic run folders as mmengine and
RunInfoHook write them (see test_tabulate.py)."""
import copy
import json
import re
from pathlib import Path

import pytest

from mixedae.tabulate import TabulateError, collect, load_published, matching_references
from mixedae.tabulate.recipe import recipes_markdown
from test_tabulate import (PUBLISHED, VIT_B, by_method, recipe_run, train_line, write_info,
                           write_run)

REPO = Path(__file__).resolve().parents[1]
STAMP = '20240101_000000'
METRIC = {'cls_finetune': {'accuracy/top1': 83.4}, 'cls_linear': {'accuracy/top1': 66.0},
          'det_coco': {'coco/bbox_mAP': 0.51, 'coco/segm_mAP': 0.45},
          'seg_ade20k': {'mIoU': 48.0}}
PROTOCOL = {'cls_finetune': 'mmpretrain-mae-finetune', 'cls_linear': 'mmpretrain-mae-linear',
            'det_coco': 'vitdet-mask-rcnn', 'seg_ade20k': 'mmseg-mae-upernet'}


def study(root: Path, task: str, info: dict, last: dict, method: str = 'mixedae') -> Path:
    """One method: ViT-B/16 pre-trained 1600 epochs, then one transfer run of `task`
    with run_info.json `info`, logged up to the train line `last` (and validated there)."""
    pretrain = root / method / 'pretrain'
    write_run(pretrain, STAMP, train=[train_line(10, 0.3, epoch=1600)])
    write_info(pretrain / STAMP, protocol='mae-pretrain', arch=VIT_B,
               schedule={'max_epochs': 1600}, batch={})
    write_run(root / method / task, STAMP, train=[last],
              val=[{**METRIC[task], 'step': last['epoch'] if 'epoch' in last else last['iter']}])
    write_info(root / method / task / STAMP, **info)
    return root


def tabulated(root: Path) -> tuple[dict, list]:
    """The measured rows (by method) and the references put beside them."""
    measured = collect(root)
    refs = matching_references(measured, load_published(PUBLISHED))
    return by_method(measured), refs


def run_of(task: str, **changes) -> tuple[dict, dict]:
    """A recipe-following run of `task`'s protocol, with `changes` to its run_info."""
    info, last = recipe_run(PROTOCOL[task])
    info = copy.deepcopy(info)
    for key, value in changes.items():
        info[key] = value
    return info, last


def test_a_run_that_follows_the_recipe_gets_its_references(tmp_path):
    info, last = run_of('det_coco')
    rows, refs = tabulated(study(tmp_path, 'det_coco', info, last))
    assert {(r.provenance, r.values['coco_mask']) for r in refs} == {
        ('published (vitdet-mask-rcnn)', 45.9), ('published (vitdet-mask-rcnn)', 45.7)}
    assert rows['mixedae'].note == ''


def test_a_scaled_batch_gets_no_reference(tmp_path):
    """protocol.batch_mismatch=scale on 4 GPUs: 512 images per step of the recipe's 1024."""
    info, last = run_of('cls_finetune', batch=dict(
        recipe_total_batch=1024, world_size=4, batch_per_gpu=128, accumulative_counts=1,
        total_batch=512, lr_scale=0.5, iteration_scale=2.0, batch_mismatch='scale'))
    rows, refs = tabulated(study(tmp_path, 'cls_finetune', info, last))
    assert refs == []
    assert rows['mixedae'].note == ("cls_finetune: total batch 512 scaled from the recipe's "
                                    '1024 (lr x 0.5)')


def test_a_truncated_schedule_gets_no_reference(tmp_path):
    info, _ = run_of('cls_finetune')
    rows, refs = tabulated(study(tmp_path, 'cls_finetune', info,
                                 train_line(400, 0.5, epoch=40)))
    assert refs == []
    assert rows['mixedae'].note == 'cls_finetune: schedule stopped at 40 of 100 epochs'


def test_iterations_count_train_lines_and_validation_steps(tmp_path):
    """An iteration schedule ends at its last logged iteration: a validation at the last
    iteration counts (the logger interval need not divide max_iters); a run stopped
    earlier does not reach it."""
    info, _ = run_of('det_coco')
    root = study(tmp_path / 'done', 'det_coco', info, train_line(184350, 0.5))
    scalars = root / 'mixedae/det_coco' / STAMP / 'vis_data/scalars.json'
    lines = scalars.read_text().splitlines()
    scalars.write_text('\n'.join(lines[:-1] + [json.dumps(
        {**METRIC['det_coco'], 'step': 184375})]) + '\n')
    assert len(tabulated(root)[1]) == 2
    rows, refs = tabulated(study(tmp_path / 'cut', 'det_coco', info, train_line(90000, 0.5)))
    assert refs == [] and rows['mixedae'].note == (
        'det_coco: schedule stopped at 90000 of 184375 iters')


def test_another_precision_gets_no_reference(tmp_path):
    info, last = run_of('det_coco', precision='fp32')
    rows, refs = tabulated(study(tmp_path, 'det_coco', info, last))
    assert refs == []
    assert rows['mixedae'].note == 'det_coco: precision fp32, recipe AMP fp16'


def test_another_interpolation_gets_no_reference(tmp_path):
    """mmpretrain's fine-tuning evaluates after a bicubic resize."""
    info, last = run_of('cls_finetune',
                        eval_resize=[{'type': 'ResizeEdge', 'interpolation': 'bilinear'}])
    rows, refs = tabulated(study(tmp_path, 'cls_finetune', info, last))
    assert refs == []
    assert rows['mixedae'].note == 'cls_finetune: evaluation resize bilinear, recipe bicubic'


def test_every_difference_is_named(tmp_path):
    """mmpretrain's linear probe (AMP) on 4 GPUs scaled, stopped at 40 epochs, in fp32."""
    info, _ = run_of('cls_linear', precision='fp32', batch=dict(
        recipe_total_batch=16384, world_size=4, total_batch=8192, lr_scale=0.5,
        iteration_scale=2.0, batch_mismatch='scale'))
    rows, refs = tabulated(study(tmp_path, 'cls_linear', info, train_line(9, 0.5, epoch=40)))
    assert refs == []
    assert rows['mixedae'].note == (
        "cls_linear: total batch 8192 scaled from the recipe's 16384 (lr x 0.5); schedule "
        'stopped at 40 of 90 epochs; precision fp32, recipe AMP fp16')


def test_one_rows_difference_keeps_the_reference_for_the_other(tmp_path):
    """mae followed the recipe, mixedae ran fp32: the reference stands beside mae only."""
    info, last = run_of('det_coco')
    study(tmp_path, 'det_coco', info, last, method='mae')
    study(tmp_path, 'det_coco', {**info, 'precision': 'fp32'}, last)
    rows, refs = tabulated(tmp_path)
    assert len(refs) == 2 and all(r.note.endswith('as: mae det_coco') for r in refs)
    assert rows['mae'].note == '' and 'precision fp32' in rows['mixedae'].note


def test_accumulation_and_a_schedule_of_another_length(tmp_path):
    """ViTDet's 64 from 8 GPUs x 4 x 2 micro-batches (mmengine counts 368750 iterations)
    is the recipe; a 2-iteration schedule is not."""
    info, _ = run_of('det_coco', schedule={'max_iters': 368750}, batch=dict(
        recipe_total_batch=64, world_size=8, batch_per_gpu=4, accumulative_counts=2,
        total_batch=64, lr_scale=1.0, iteration_scale=2.0, batch_mismatch='accumulate'))
    assert len(tabulated(study(tmp_path / 'acc', 'det_coco', info,
                               train_line(368750, 0.5)))[1]) == 2
    info, _ = run_of('det_coco', schedule={'max_iters': 2})
    rows, refs = tabulated(study(tmp_path / 'short', 'det_coco', info, train_line(2, 0.5)))
    assert refs == [] and rows['mixedae'].note == 'det_coco: schedule 2 iters, recipe 184375 iters'


def test_a_test_run_is_checked_through_the_training_run(tmp_path):
    """tools/test.py makes a newer run folder with the metrics (its run_info has no batch):
    the batch, schedule and precision come from the run that trained."""
    info, last = run_of('seg_ade20k')
    root = study(tmp_path, 'seg_ade20k', info, train_line(80000, 0.5))   # stopped halfway
    tested = root / 'mixedae/seg_ade20k/20240102_000000'
    write_run(tested.parent, tested.name, test={'mIoU': 48.5})
    write_info(tested, **{**info, 'batch': {}})
    rows, refs = tabulated(root)
    assert rows['mixedae'].values['ade_miou'] == 48.5
    assert refs == [] and rows['mixedae'].note == (
        'seg_ade20k: schedule stopped at 80000 of 160000 iters')


def test_old_run_info_is_named_not_verified(tmp_path):
    """A run_info.json written before precision and eval_resize were recorded: the
    reference stays, the note says what could not be verified."""
    info, last = run_of('seg_ade20k')
    del info['precision'], info['eval_resize']
    rows, refs = tabulated(study(tmp_path, 'seg_ade20k', info, last))
    assert [r.values for r in refs] == [{'ade_miou': 48.13}]
    assert rows['mixedae'].note == ('seg_ade20k: recipe not verified: precision not in '
                                    'run_info.json; evaluation resize not in run_info.json')


def test_what_the_recipe_leaves_out_is_not_checked(tmp_path):
    """The MAE paper's COCO recipe states nothing a run could be checked against: any
    finished run of it gets the reference; an unfinished one does not."""
    info, last = run_of('det_coco', protocol='mae-paper-coco-mask-rcnn', precision='fp32',
                        batch={}, eval_resize=[])
    rows, refs = tabulated(study(tmp_path / 'done', 'det_coco', info, last))
    assert [r.values for r in refs] == [{'coco_box': 50.3}, {'coco_box': 51.2}]
    assert rows['mixedae'].note == ''
    rows, refs = tabulated(study(tmp_path / 'cut', 'det_coco', info, train_line(5, 0.5)))
    assert refs == [] and 'schedule stopped at 5 of 184375 iters' in rows['mixedae'].note


def entry_error(tmp_path: Path, change) -> str:
    """The error load_published raises for the published file with `change` applied."""
    data = json.loads(PUBLISHED.read_text())
    change(data['protocols'])
    path = tmp_path / 'published.json'
    path.write_text(json.dumps(data))
    with pytest.raises(TabulateError) as error:
        load_published(path)
    assert str(error.value).startswith(f'{path}: protocols.')
    return str(error.value)


def test_bad_recipes_are_named(tmp_path):
    vitdet = 'protocols.vitdet-mask-rcnn'
    assert f'{vitdet}: precision.value: \'fp16\' is not one of' in entry_error(
        tmp_path, lambda p: p['vitdet-mask-rcnn']['recipe']['precision'].update(value='fp16'))
    assert re.search(r'total_batch: give it in "recipe" .* or name it in "not_checked"',
                     entry_error(tmp_path, lambda p: p['vitdet-mask-rcnn']['recipe'].pop(
                         'total_batch')))
    assert "recipe.schedule: expected" in entry_error(
        tmp_path, lambda p: p['vitdet-mask-rcnn']['recipe']['schedule'].pop('source'))
    assert 'schedule.value.vit-base-p16: expected' in entry_error(
        tmp_path, lambda p: p['vitdet-mask-rcnn']['recipe']['schedule'].update(
            value={'vit-base-p16': {'iters': 5}}))
    assert "unknown fact(s) ['lr']" in entry_error(
        tmp_path, lambda p: p['mae-paper-linear']['not_checked'].update(lr='x'))
    assert "protocols.mmseg-mae-upernet: unknown key(s) ['recipes']" in entry_error(
        tmp_path, lambda p: p['mmseg-mae-upernet'].update(recipes={}))
    assert 'protocols.mmseg-mae-upernet: has published references but no "recipe"' in \
        entry_error(tmp_path, lambda p: p['mmseg-mae-upernet'].pop('recipe'))


def test_recipe_table_is_the_published_file():
    """docs/published.md's table of recipe facts is rendered from the JSON file."""
    published = load_published(PUBLISHED)
    table = recipes_markdown({pid: p.recipe for pid, p in published.protocols.items()})
    assert '| vitdet-mask-rcnn | 64 | AMP fp16 | bilinear |' in table
    assert table in (REPO / 'docs' / 'published.md').read_text()
