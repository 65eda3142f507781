"""``run_info.json``: what a run measured, for the results table.

``tools/tabulate.py`` puts a published number beside a measured one only where both come
from the same protocol, backbone and pre-training length. mmengine's logs hold none of
these, and the config it dumps is Python (which the toolkit never executes), so
:class:`RunInfoHook` writes them as JSON into the run's log dir
(``<work_dir>/<timestamp>/run_info.json``) when a Runner starts training or testing::

    {"protocol": "vitdet-mask-rcnn",            # the config's protocol.name
     "arch": "vit-base-p16",                     # model.backbone
     "schedule": {"max_iters": 184375},          # or {"max_epochs": 800}
     "batch": {"recipe_total_batch": 64, ...},   # protocol.applied (recipe_batch.py)
     "weights": "work_dirs/.../mmdet.pth",       # the backbone's checkpoint, or null
     "precision": "amp-fp16",                    # optim_wrapper: fp32 / amp-fp16 / amp-bf16
     "eval_resize": [{"type": "Resize",          # the resizes of the test (else val)
                      "interpolation": "bilinear"}]}   # pipeline, defaults filled in

The tables compare the batch, the precision and the resize (and the logged length) with
the published recipe of the protocol (``mixedae/tabulate/protocol_check.py``) and label a
run whose backbone started from no weights as random initialisation.
"""
import inspect
import json
from pathlib import Path
from typing import Optional

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS, TRANSFORMS, DefaultScope

from ..atomic_write import write_atomically

ARCH_NAMES = {'s': 'small', 'small': 'small', 'b': 'base', 'base': 'base', 'l': 'large',
              'large': 'large', 'h': 'huge', 'huge': 'huge'}
SIZES = {(384, 12): 'small', (768, 12): 'base', (1024, 24): 'large', (1280, 32): 'huge'}


def vit_arch(backbone: dict) -> Optional[str]:
    """``vit-base-p16`` for a ViT-B/16 backbone config (mmpretrain's ``arch`` names, or
    ``embed_dims`` / ``num_layers`` as mmseg's ``MAE`` takes them), ``vit-64x4-p8`` for
    another width x depth; None when the config gives neither."""
    arch, patch = backbone.get('arch'), backbone.get('patch_size', 16)
    if isinstance(arch, str) and arch.lower() in ARCH_NAMES:
        return f'vit-{ARCH_NAMES[arch.lower()]}-p{patch}'
    spec = arch if isinstance(arch, dict) else backbone
    size = spec.get('embed_dims'), spec.get('num_layers')
    if None in size:
        return None
    return f'vit-{SIZES[size]}-p{patch}' if size in SIZES else f'vit-{size[0]}x{size[1]}-p{patch}'


def schedule(train_cfg: Optional[dict]) -> dict:
    """``{'max_epochs': N}`` or ``{'max_iters': N}`` of the training loop ({} if none)."""
    train_cfg = train_cfg or {}
    for key in ('max_epochs', 'max_iters'):
        if key in train_cfg:
            return {key: train_cfg[key]}
    return {}


def backbone_weights(model: dict) -> Optional[str]:
    """The checkpoint the backbone starts from (``init_cfg`` of type ``Pretrained``, or
    the model's ``pretrained``), None for random initialisation."""
    init = (model.get('backbone') or {}).get('init_cfg')
    for cfg in init if isinstance(init, list) else [init]:
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained' and cfg.get('checkpoint'):
            return str(cfg['checkpoint'])
    return model.get('pretrained') or None


def precision(optim_wrapper: Optional[dict]) -> str:
    """``fp32`` (mmengine's ``OptimWrapper``), ``amp-fp16`` / ``amp-bf16``
    (``AmpOptimWrapper`` and its ``dtype``; None is float16), or another wrapper's name."""
    optim_wrapper = optim_wrapper or {}
    kind = optim_wrapper.get('type', 'OptimWrapper')
    name = (kind if isinstance(kind, str) else kind.__name__).split('.')[-1]
    if name == 'AmpOptimWrapper':
        dtype = str(optim_wrapper.get('dtype') or 'float16').replace('torch.', '')
        return {'float16': 'amp-fp16', 'bfloat16': 'amp-bf16'}.get(dtype, f'amp-{dtype}')
    return 'fp32' if name == 'OptimWrapper' else name


def default_argument(transform: str, key: str, scope: Optional[str]) -> Optional[str]:
    """The default of ``key`` in the signature of the transform registered as
    ``transform`` in ``scope`` (None if it is not found or has no such argument)."""
    with DefaultScope.overwrite_default_scope(scope):
        with TRANSFORMS.switch_scope_and_registry(None) as registry:
            cls = registry.get(transform)
    parameter = inspect.signature(cls).parameters.get(key) if cls else None
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def eval_resize(cfg: Config) -> list[dict]:
    """Every resize (a transform whose type names ``Resize``) of the test pipeline (else
    the validation one) with its interpolation, the transform's default where the config
    sets none (None where that is unknown); [] without such a pipeline or resize."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = loader.get('dataset') or {}
    pipeline = dataset.get('pipeline') or (dataset.get('dataset') or {}).get('pipeline') or []
    resizes = []
    for step in pipeline:
        kind = step.get('type') if isinstance(step, dict) else None
        if isinstance(kind, str) and 'Resize' in kind:
            interpolation = step.get('interpolation') or default_argument(
                kind, 'interpolation', cfg.get('default_scope'))
            resizes.append({'type': kind, 'interpolation': interpolation})
    return resizes


def run_info(cfg: Config) -> dict:
    """The facts of ``run_info.json`` for a (merged) config."""
    protocol = cfg.get('protocol') or {}
    model = cfg.get('model') or {}
    return {'protocol': protocol.get('name'), 'arch': vit_arch(model.get('backbone') or {}),
            'schedule': schedule(cfg.get('train_cfg')),
            'batch': dict(protocol.get('applied') or {}),
            'weights': backbone_weights(model),
            'precision': precision(cfg.get('optim_wrapper')), 'eval_resize': eval_resize(cfg)}


@HOOKS.register_module()
class RunInfoHook(Hook):
    """Write ``<log_dir>/run_info.json`` (rank 0) before training or testing starts."""

    priority = 'VERY_LOW'

    def before_run(self, runner) -> None:
        if not is_main_process():
            return
        write_atomically(Path(runner.log_dir) / 'run_info.json',
                         json.dumps(run_info(runner.cfg), indent=1) + '\n')
