"""DDP pre-training and transfer under torchrun on CPUs (gloo), and the FSDP config for
ViT-L."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from conftest import CONFIGS, ROOT, save_pretraining_checkpoint
from mixedae.data import make_tiny_ade20k, make_tiny_coco, make_tiny_imagenet
from mixedae.engine import load_checkpoint_file, vit_block_wrap_policy
from mixedae.engine.config_checks import check_pretrain_config
from mixedae.engine.launch import build_runner
from mixedae.stats import load_scorer

TINY = CONFIGS / 'demo' / 'mixedae_vit-tiny-p8_1xb32-300i_tiny.py'
FSDP = CONFIGS / 'mixedae' / 'mixedae_vit-large-p16_fsdp-8xb512-amp-coslr-800e_in1k.py'


def torchrun(config: Path, work_dir: Path, options: list) -> subprocess.CompletedProcess:
    """``tools/train.py`` on two CPU ranks (gloo); fails the test unless both exit 0."""
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node',
           '2', str(ROOT / 'tools/train.py'), str(config), '--launcher', 'pytorch',
           '--work-dir', str(work_dir), '--cfg-options', *options]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]                 # every rank exited 0
    return out


def test_torchrun_two_ranks_train_and_save(pretrain_data_root, tmp_path):
    out = torchrun(TINY, tmp_path, [
           f'train_dataloader.dataset.data_root={pretrain_data_root}',
           'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
           'train_cfg.max_iters=4', 'default_hooks.checkpoint.interval=4',
           'default_hooks.logger.interval=1'])
    text = out.stdout + out.stderr
    assert text.count('Iter(train) [') == 4                        # rank 0 logs, rank 1 not
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (log,) = run_dir.glob('*.log')                                 # no per-rank log files
    assert 'Distributed training: True' in log.read_text()
    assert 'GPU number: 2' in log.read_text()                      # mmengine's world size
    state = load_checkpoint_file(str(tmp_path / 'iter_4.pth'))
    assert state['meta']['iter'] == 4
    assert 'backbone.cls_token' in state['state_dict']             # unwrapped from DDP
    assert not any(key.startswith('module.') for key in state['state_dict'])


TRANSFER = {   # tiny config, dataset writer, data_root below the written folder, metric
    'cls': ('cls-finetune_vit-tiny-p8_tiny.py', make_tiny_imagenet, '', 'accuracy/top1'),
    'det': ('det-coco_vit-tiny-p8_tiny.py', make_tiny_coco, '', 'coco/bbox_mAP'),
    'seg': ('seg-ade20k_vit-tiny-p8_tiny.py', make_tiny_ade20k, 'ADEChallengeData2016',
            'mIoU'),
}


@pytest.mark.slow
@pytest.mark.parametrize('task', sorted(TRANSFER))
def test_torchrun_two_ranks_transfer(task, tmp_path):
    """Each downstream task trains on two ranks and evaluates with its real metric
    (results gathered across ranks)."""
    config, make_data, folder, metric = TRANSFER[task]
    make_data(tmp_path / 'data', seed=0)
    root = f'{tmp_path / "data" / folder}/'
    options = [f'{split}_dataloader.dataset.data_root={root}'
               for split in ('train', 'val', 'test')]
    if task == 'det':
        ann = f'{root}annotations/instances_val2017.json'
        options += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
    save_pretraining_checkpoint(tmp_path / 'pre.pth')
    torchrun(CONFIGS / 'demo' / config, tmp_path / 'work', [
        *options, f'model.backbone.init_cfg.checkpoint={tmp_path / "pre.pth"}',
        'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4'])
    (run_dir,) = [p for p in (tmp_path / 'work').iterdir() if p.is_dir()]
    assert 'Distributed training: True' in next(run_dir.glob('*.log')).read_text()
    scalars = (run_dir / 'vis_data' / 'scalars.json').read_text().splitlines()
    assert metric in json.loads(scalars[-1])
    assert (tmp_path / 'work' / 'iter_4.pth').is_file()
    # per-sample results of every val image, both ranks' (written once, by rank 0)
    manifest = json.loads((run_dir / 'per_sample' / 'val.json').read_text())
    assert manifest['num_images'] == {'cls': 16, 'det': 8, 'seg': 8}[task]
    scorer = load_scorer(str(run_dir / 'per_sample' / 'val.json'))
    assert len(set(scorer.image_ids.tolist())) == manifest['num_images']
    assert scorer.values()[metric] == pytest.approx(json.loads(scalars[-1])[metric],
                                                    abs=0.005)


def test_fsdp_config_builds_flexible_runner(pretrain_data_root, tmp_path):
    cfg = Config.fromfile(str(FSDP))
    check_pretrain_config(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    cfg.work_dir, cfg.launcher = str(tmp_path), 'none'
    cfg.train_dataloader.dataset.data_root = str(pretrain_data_root)
    runner = build_runner(cfg)
    assert type(runner).__name__ == 'FlexibleRunner'
    assert type(runner.strategy).__name__ == 'FSDPStrategy'
    assert runner.strategy.model_wrapper['auto_wrap_policy'] == dict(
        type='vit_block_wrap_policy')
    assert runner.strategy.state_dict_type.name == 'FULL_STATE_DICT'

    with DefaultScope.overwrite_default_scope('mmpretrain'), torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert model.backbone.embed_dims == 1024
    units = [m for m in model.modules() if vit_block_wrap_policy(m, False, 0)]
    assert len(units) == 24 + 8                                    # encoder + decoder blocks
