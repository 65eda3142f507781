"""Pre-trained ViT weights as researchers hold them: detect a file's layout and read its
encoder in the canonical form (mmpretrain ViT names, no prefix; see ``encoder.py``).

============ ============================================================ =====================
format       what it is                                                   how it is recognised
============ ============================================================ =====================
mmengine     a Runner checkpoint of a pre-training: MixedAE, naive mix,   ``state_dict`` with
             mmpretrain / mmselfsup MAE (model-zoo files are saved in     ``backbone.`` +
             torch's legacy format; both formats are read)                mmpretrain names
mae          facebookresearch/mae: the release ``mae_pretrain_vit_*.pth`` ``model`` with timm
             (``{'model': encoder}``) or a training ``checkpoint-N.pth``  names
             (``model`` with [MASK] token and decoder, ``optimizer``,
             ``scaler``, ``epoch``, ``args`` as an ``argparse.Namespace``)
timm         a timm ``VisionTransformer`` state dict, e.g.                top-level timm names
             ``vit_base_patch16_224.mae`` (``.bin``, ``.pth``,
             ``.safetensors``)
beit2mmseg   the output of mmseg's ``tools/model_converters/beit2mmseg.py`` mmpretrain names at
             (mmseg 1.x: final norm still ``norm``, the patch embedding   the top level (0.x:
             also under its timm name; 0.x: ``backbone.`` prefix)        ``backbone.`` +)
============ ============================================================ =====================

Files are read without executing pickled code: PyTorch files (zip or legacy) through the
project's weights-only loader, with ``argparse.Namespace`` (the ``args`` of MAE training
checkpoints) as the only addition to its allow-list; ``.safetensors`` with the
``safetensors`` package. Parts that are not the encoder (decoder, [MASK] token, segment
embedding, optimizer state) are dropped; a classifier, detector or segmentor checkpoint is
refused, as is any encoder key outside the plain ViT scheme.
"""
import argparse
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ..engine.checkpoint_loading import UnsafeCheckpointError, load_checkpoint_file
from .encoder import ConversionError, check_encoder_keys
from .targets import TIMM_NAMES, rename_keys

FORMATS = {
    'mmengine': 'mmengine pre-training checkpoint (MixedAE / naive mix / mmpretrain MAE)',
    'mae': 'official MAE checkpoint (facebookresearch/mae)',
    'timm': 'timm ViT state dict',
    'beit2mmseg': 'mmseg beit2mmseg.py output',
}
# the magic number torch's legacy (non-zip) format pickles first (protocol 2, LONG1)
TORCH_LEGACY_MAGIC = b'\x80\x02\x8a\x0a' + (0x1950a86a20f9469cfc6c).to_bytes(10, 'little')
# pre-training-only parts of an encoder state dict (key prefixes, canonical names)
PRETRAIN_ONLY = ('segment_embed', 'mask_token', 'decoder_')
# keys of downstream models: such a checkpoint is fine-tuned, not pre-trained
TASK_PREFIXES = ('rpn_head.', 'roi_head.', 'bbox_head.', 'mask_head.', 'decode_head.',
                 'auxiliary_head.', 'head.layers.', 'head.fc.')
# ... and of a classifier's head in timm / MAE fine-tuning names
CLASSIFIER_PREFIXES = ('head.', 'fc_norm.')
# the final norm is `norm` in timm and in beit2mmseg's output, `ln1` in mmpretrain
BEIT2MMSEG_NAMES = (('ln1.', 'norm.'),)


@dataclass(frozen=True)
class SourceEncoder:
    """An encoder read from a file: canonical weights and where they came from."""
    path: str
    container: str       # 'torch zip', 'torch legacy' or 'safetensors'
    format: str          # a key of FORMATS
    encoder: dict

    @property
    def description(self) -> str:
        return describe(self.format, self.container)


def describe(fmt: Optional[str], container: str) -> str:
    """'official MAE checkpoint (facebookresearch/mae), torch zip file'."""
    return f'{FORMATS[fmt] if fmt else "unknown layout"}, {container} file'


def file_container(path: str) -> str:
    """'torch zip', 'torch legacy' or 'safetensors', from the file's first bytes.

    Raises:
        ConversionError: no such file, or none of these formats (intact or not).
    """
    if not Path(path).is_file():
        raise ConversionError(f'{path}: no such checkpoint file')
    with open(path, 'rb') as f:
        head = f.read(16)
    size = Path(path).stat().st_size
    if head.startswith(b'PK\x03\x04'):
        if not zipfile.is_zipfile(path):
            raise ConversionError(f'{path}: a truncated or damaged PyTorch zip file (no zip '
                                  'directory at its end)')
        return 'torch zip'
    if head.startswith(TORCH_LEGACY_MAGIC):
        return 'torch legacy'
    if len(head) >= 9 and head[8:9] == b'{':
        header = int.from_bytes(head[:8], 'little')
        if 8 + header > size:
            raise ConversionError(f'{path}: a truncated safetensors file (its header alone '
                                  f'needs {8 + header} bytes, the file has {size})')
        return 'safetensors'
    raise ConversionError(f'{path}: not a checkpoint: neither a PyTorch file (zip or legacy '
                          'format) nor a safetensors file')


def load_file(path: str, container: str) -> dict:
    """The file's content, read without executing pickled code."""
    if container == 'safetensors':
        from safetensors import SafetensorError
        from safetensors.torch import load_file as load_safetensors
        try:
            return load_safetensors(path, device='cpu')
        except (SafetensorError, OSError, ValueError) as e:
            raise ConversionError(f'{path}: an unreadable safetensors file ({e})') from e
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return load_checkpoint_file(path, map_location='cpu')
    except UnsafeCheckpointError as e:
        if container == 'torch legacy':   # a cut-off pickle reads as a strange global
            raise ConversionError(f'{path}: a truncated or damaged torch legacy file, or one '
                                  f'holding pickled objects besides tensors ({e})') from e
        raise ConversionError(f'{path} ({container} file): {e}') from e
    except Exception as e:   # damaged archives: zip/pickle/storage errors of many types
        raise ConversionError(f'{path}: a damaged {container} file '
                              f'({type(e).__name__}: {e})') from e


# key schemes of a ViT state dict, recognised by their keys
SCHEMES = {
    'backbone': ('backbone.layers.', 'backbone.patch_embed.projection.'),  # mmpretrain names
    'mmpretrain': ('layers.', 'patch_embed.projection.'),      # ... without the prefix
    'timm': ('blocks.', 'patch_embed.proj.'),
}
# per format: where its state dict may sit ('' = the top level) and in which key schemes
LAYOUTS = {
    'mmengine': (('state_dict',), ('backbone',)),
    'mae': (('model',), ('timm',)),
    'timm': (('', 'state_dict'), ('timm',)),            # state dict, or timm's train.py
    'beit2mmseg': (('', 'state_dict'), ('mmpretrain', 'backbone')),   # mmseg 1.x / 0.x
}


def scheme(state_dict: dict) -> Optional[str]:
    """The key scheme (a key of SCHEMES) of a state dict, or None."""
    for name, prefixes in SCHEMES.items():
        if any(k.startswith(prefixes) for k in state_dict):
            return name
    return None


def state_dict_of(checkpoint: dict, fmt: str) -> tuple[str, Optional[dict]]:
    """Where ``fmt``'s state dict sits in the checkpoint, and the dict (None: not there)."""
    wheres, schemes = LAYOUTS[fmt]
    for where in wheres:
        state_dict = checkpoint.get(where) if where else checkpoint
        if isinstance(state_dict, dict) and scheme(state_dict) in schemes:
            return where, state_dict
    return wheres[0], None


def detect(checkpoint: dict) -> Optional[str]:
    """The format (a key of FORMATS) of a loaded checkpoint, or None."""
    return next((fmt for fmt in LAYOUTS if state_dict_of(checkpoint, fmt)[1] is not None),
                None)


def layout_problem(checkpoint: dict, fmt: str) -> str:
    """What the checkpoint lacks to be in ``fmt``'s layout."""
    wheres, schemes = LAYOUTS[fmt]
    places = ' or '.join(repr(w) if w else 'the top level' for w in wheres)
    examples = ' or '.join(repr(SCHEMES[name][0] + '0.attn.qkv.weight') for name in schemes)
    return (f'no ViT encoder keys such as {examples} at {places} (top-level keys: '
            f'{sorted(map(str, checkpoint))[:8]})')


def without_duplicate_patch_embed(encoder: dict) -> dict:
    """mmseg 1.x's beit2mmseg.py writes the patch embedding twice, as ``projection`` and
    under its timm name ``proj``: keep the first."""
    return {k: v for k, v in encoder.items()
            if not (k.startswith('patch_embed.proj.')
                    and 'patch_embed.projection.' + k.rsplit('.', 1)[1] in encoder)}


def encoder_weights(checkpoint: dict, fmt: str, source: str) -> dict:
    """The canonical encoder of a checkpoint in ``fmt``'s layout (keys not checked yet).

    Raises:
        ConversionError: not in that layout, or a downstream (classifier, detector,
            segmentor) checkpoint.
    """
    _, state_dict = state_dict_of(checkpoint, fmt)
    if state_dict is None:
        raise ConversionError(f'{source}: {layout_problem(checkpoint, fmt)}')
    task_keys = sorted(k for k in state_dict if k.startswith(TASK_PREFIXES))
    names = scheme(state_dict)
    if names == 'timm':
        encoder = rename_keys(state_dict, TIMM_NAMES, reverse=True)
    elif names == 'backbone':
        encoder = {k[len('backbone.'):]: v for k, v in state_dict.items()
                   if k.startswith('backbone.')}
    else:
        encoder = dict(state_dict)
    if fmt == 'beit2mmseg':
        encoder = rename_keys(without_duplicate_patch_embed(encoder), BEIT2MMSEG_NAMES,
                              reverse=True)
    task_keys += sorted(k for k in encoder if k.startswith(CLASSIFIER_PREFIXES))
    if task_keys:
        raise ConversionError(
            f'{source}: weights of a downstream model (keys such as {task_keys[0]!r}): a '
            'fine-tuned classifier, detector or segmentor, not a pre-trained encoder; convert '
            'the pre-training checkpoint instead')
    return {k: v for k, v in encoder.items() if not k.startswith(PRETRAIN_ONLY)}


def read_source(path: str, fmt: Optional[str] = None) -> SourceEncoder:
    """Read the encoder of the checkpoint file ``path`` (``fmt``: force a format).

    Raises:
        ConversionError: unreadable file, unknown layout, a layout other than ``fmt``, a
            downstream model, or encoder keys missing or outside the plain ViT scheme; the
            message names the file, the format and what is missing.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ConversionError(f'unknown source format {fmt!r}; choose one of '
                              f'{sorted(FORMATS)}')
    container = file_container(path)
    checkpoint = load_file(path, container)
    if not isinstance(checkpoint, dict):
        raise ConversionError(f'{path}: a {container} file holding a '
                              f'{type(checkpoint).__name__}, not a checkpoint dict')
    detected = detect(checkpoint)
    if fmt is None and detected is None:
        raise ConversionError(
            f'{path}: no ViT encoder weights in any known layout ({container} file; '
            f'top-level keys: {sorted(map(str, checkpoint))[:8]}); expected one of: '
            f'{"; ".join(FORMATS.values())}')
    if fmt is not None and fmt != detected and state_dict_of(checkpoint, fmt)[1] is None:
        found = f'it looks like: {FORMATS[detected]}' if detected else 'no known layout'
        raise ConversionError(f'{path}: not a {FORMATS[fmt]} as --from {fmt} says: '
                              f'{layout_problem(checkpoint, fmt)}; {found}')
    fmt = fmt or detected
    where = f'{path} ({describe(fmt, container)})'
    encoder = encoder_weights(checkpoint, fmt, where)
    check_encoder_keys(encoder, where)
    return SourceEncoder(path, container, fmt, encoder)


def describe_file(path: str) -> str:
    """What a checkpoint file is, for error hints (never raises)."""
    try:
        container = file_container(path)
        checkpoint = load_file(path, container)
    except ConversionError as e:
        return str(e)
    return describe(detect(checkpoint) if isinstance(checkpoint, dict) else None, container)

