"""Shared fixtures: tiny generated data and tiny configs (CPU, seconds), one tiny study."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from filelock import FileLock
from mmengine.config import Config

import mixedae.modules  # noqa: F401  (registers the modules)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs two pytest-xdist workers on two cores: one thread each for the
    # tests' in-process tensors (the tiny models gain nothing from a second one)
    torch.set_num_threads(1)

TOOLS = ROOT / 'tools'
PUBLISHED = ROOT / 'benchmarks' / 'published_results.json'


def striped_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """A 3-channel image whose colour and stripe pattern are the image's own."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle, freq = rng.uniform(0, np.pi), rng.uniform(0.2, 1.2)
    wave = np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) + rng.uniform(0, 6))
    colour, amplitude = rng.uniform(40, 215, 3), rng.uniform(10, 40)
    img = colour[None, None] + amplitude * wave[..., None]
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope='session')
def pretrain_data_root(tmp_path_factory) -> Path:
    """64 images of 32 px with distinct per-image statistics, in ``ROOT/train/``."""
    root = tmp_path_factory.mktemp('pretrain_data')
    (root / 'train').mkdir()
    rng = np.random.default_rng(0)
    for i in range(64):
        cv2.imwrite(str(root / 'train' / f'img_{i:03d}.png'), striped_image(rng, 32))
    return root


def unscoped(value):
    """A config value without the ``_scope_`` keys that ``mmpretrain::``/``mmseg::``
    inheritance adds (to compare a config with the upstream one it inherits)."""
    if isinstance(value, dict):
        return {k: unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [unscoped(v) for v in value]
    return value


def tiny_pretrain_config(name: str, data_root: Path, work_dir: Path, **overrides) -> Config:
    """A ``configs/demo`` pre-training config pointed at ``data_root``."""
    cfg = Config.fromfile(str(CONFIGS / 'demo' / name))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = str(data_root)
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.merge_from_dict(overrides)
    return cfg


TINY_MIXEDAE = CONFIGS / 'demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'
TINY_MAE = CONFIGS / 'demo/mae_vit-tiny-p8_1xb32-300i_tiny.py'


def save_pretraining_checkpoint(path: Path, img_size: int = 32, patch_size: int = 8,
                                config: Path = TINY_MIXEDAE) -> dict:
    """A tiny pre-training model (encoder, decoder, head; MixedAE unless ``config`` says
    otherwise), every weight moved off its initial value, saved as a Runner checkpoint;
    returns its state dict."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.update(img_size=img_size, patch_size=patch_size)
    cfg.model.neck.update(num_patches=(img_size // patch_size)**2, patch_size=patch_size)
    cfg.model.head.patch_size = patch_size
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    state_dict = model.state_dict()
    torch.save({'state_dict': state_dict, 'meta': {'iter': 300}}, path)
    return state_dict


# two iterations everywhere (validated and logged); schedules ending later are simply
# not reached
TWO_ITERS = {'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
             'default_hooks.logger.interval': 1}
FAST = {
    'pretrain': {'train_cfg.max_iters': 2, 'train_dataloader.batch_size': 8,
                 'default_hooks.logger.interval': 1},
    'cls_finetune': TWO_ITERS,
    'cls_linear': TWO_ITERS,
    'det_coco': TWO_ITERS,
    'seg_ade20k': TWO_ITERS,
}
FAST_COST = dict(repeats=2, steps=1, warmup=1)   # the cost stage: a few steps per method
# the test studies' evaluation sets: 64 ImageNet, 32 COCO and 32 ADE20K images (evaluating
# the demo's 512 / 256 / 256 was a third of each detection stage)
SMALL_EVALUATION = dict(imagenet_val=4, coco_val=32, ade_val=32)


def demo_task(demo: Config, name: str) -> dict:
    """The demo pipeline's task ``name`` with an absolute config path and without its
    seeds (a test study runs seeds only where it gives them)."""
    return {**{k: v for k, v in demo.tasks[name].items() if k != 'seeds'},
            'config': str(ROOT / demo.tasks[name].config)}


def write_pipeline(path: Path, methods: dict, tasks: dict[str, dict],
                   pretrain: dict = {}) -> Path:
    """The demo pipeline config with absolute config paths, small evaluation sets, FAST
    schedules (pre-training updated with ``pretrain``) and cost measurement, the given
    methods, and the given tasks (each entry updated with its dict; the demo's seeds left
    out)."""
    demo = Config.fromfile(str(ROOT / 'configs' / 'pipelines' / 'demo.py'))
    task_cfgs = {name: {**demo_task(demo, name), **extra} for name, extra in tasks.items()}
    options = {stage: {**demo.cfg_options.get(stage, {}), **FAST[stage]}
               for stage in ('pretrain', *tasks)}
    options['pretrain'].update(pretrain)
    prepare = dict(tiny_datasets=dict(demo.prepare.tiny_datasets, sizes=SMALL_EVALUATION))
    cfg = Config(dict(work_root='study', prepare=prepare, methods=methods,
                      tasks=task_cfgs, cfg_options=options, env=demo.env, cost=FAST_COST))
    cfg.dump(str(path))
    return path


def demo_method(name: str, **entry) -> dict:
    demo = Config.fromfile(str(ROOT / 'configs' / 'pipelines' / 'demo.py'))
    return {name: dict(config=str(ROOT / demo.methods[name].config), **entry)}


@pytest.fixture(scope='session')
def study(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One run of tools/run_pipeline.py: MixedAE, all four transfer tasks (fine-tuning
    with two seeds, seg also tested with tools/test.py), its cost, tables and report, data made by the prepare stage in
    the working folder (shared by the pipeline, report, mim and SLURM tests). Under xdist
    the first worker that needs it runs it; another waits, then reads its record."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        shared = shared.parent   # the run's folder, above the workers' own
    cwd, record = shared / 'study', shared / 'study.json'
    with FileLock(str(shared / 'study.lock')):
        if not record.is_file():
            cwd.mkdir()
            config = write_pipeline(cwd / 'pipeline.py', demo_method('mixedae'), dict(
                cls_finetune=dict(seeds=[0, 1]), cls_linear={}, det_coco={},
                seg_ade20k=dict(test=True)))
            result = subprocess.run([sys.executable, str(TOOLS / 'run_pipeline.py'),
                                     str(config)], cwd=cwd, capture_output=True, text=True,
                                    timeout=600)
            record.write_text(json.dumps(dict(args=result.args, returncode=result.returncode,
                                              stdout=result.stdout, stderr=result.stderr)))
    return cwd, subprocess.CompletedProcess(**json.loads(record.read_text()))


def per_sample_dir(work_dir: Path) -> Path:
    (run, ) = [p for p in work_dir.glob('*/per_sample')]
    return run


def assert_recomputes(manifest: Path, logged: dict, tolerance: float) -> dict:
    """The metrics recomputed from the files equal the run's logged ones (which the
    metrics round: 2 decimals mmseg, 3 mmdet)."""
    from mixedae.stats import load_scorer
    scorer = load_scorer(str(manifest))
    values = scorer.values()
    assert values and set(values) <= set(logged)
    for key, value in values.items():
        assert value == pytest.approx(logged[key], abs=tolerance), key
    return values
