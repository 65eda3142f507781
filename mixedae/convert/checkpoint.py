"""Convert a pre-training checkpoint file and check it in the target model."""
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..engine.checkpoint_loading import UnsafeCheckpointError, load_checkpoint_file
from .encoder import ConversionError, EncoderArch, encoder_state_dict, infer_arch
from .targets import TARGETS, Target


@dataclass(frozen=True)
class ConversionReport:
    """What was written and how it loaded into the target model."""
    out: str
    target: str
    arch: EncoderArch
    num_tensors: int
    missing: tuple[str, ...]       # none a pre-training provides (else an error is raised)

    def __str__(self) -> str:
        a = self.arch
        text = (f'{self.out}: {self.num_tensors} tensors for {self.target} (ViT '
                f'{a.embed_dims}d x {a.num_layers}, patch {a.patch_size}, {a.img_size} px); '
                f'loaded into {TARGETS[self.target].model_name}: unexpected keys: none, '
                'missing keys: ')
        return text + (f'{len(self.missing)} not given by pre-training ('
                       + ', '.join(sorted({k.split('.')[-1] for k in self.missing})) + ')'
                       if self.missing else 'none')


def check_target(target: str) -> Target:
    if target not in TARGETS:
        raise ConversionError(f'unknown target {target!r}; choose one of {sorted(TARGETS)}')
    return TARGETS[target]


def load_into_target(converted: dict, target: str, arch: EncoderArch,
                     source: str) -> tuple[str, ...]:
    """Load ``converted`` into a freshly built target model; return its missing keys.

    Raises:
        ConversionError: unexpected keys, wrong shapes, or missing keys that a
            pre-training provides.
    """
    spec = check_target(target)
    model = spec.build_model(arch)
    state_dict = {k[len(spec.prefix):]: v for k, v in converted.items()}
    own = model.state_dict()
    shapes = [f'{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}'
              for k, v in state_dict.items() if k in own and v.shape != own[k].shape]
    if shapes:
        raise ConversionError(f'{source}: shapes do not fit the {target} model: '
                              + '; '.join(shapes))
    result = model.load_state_dict(state_dict, strict=False)
    missing = tuple(k for k in result.missing_keys
                    if not k.endswith(spec.not_pretrained))
    if result.unexpected_keys or missing:
        raise ConversionError(
            f'{source}: does not load into the {target} model: unexpected keys '
            f'{result.unexpected_keys or "none"}, missing keys {list(missing) or "none"}')
    return tuple(result.missing_keys)


def read_checkpoint(src: str) -> dict:
    """A checkpoint file through the project's safe loader, with errors naming it."""
    if not os.path.isfile(src):
        raise ConversionError(f'{src}: no such checkpoint file')
    if not zipfile.is_zipfile(src):
        raise ConversionError(f'{src}: not a readable PyTorch checkpoint (not the zip '
                              'format torch.save writes)')
    try:
        return load_checkpoint_file(src, map_location='cpu')
    except UnsafeCheckpointError as e:
        raise ConversionError(str(e)) from e
    except Exception as e:   # not a torch file: zip/pickle errors of many types
        raise ConversionError(f'{src}: not a readable PyTorch checkpoint '
                              f'({type(e).__name__}: {e})') from e


def convert_checkpoint(src: str, target: str, out: str,
                       num_heads: int | None = None) -> ConversionReport:
    """Convert the pre-training checkpoint ``src`` (MixedAE, naive mix or mmpretrain MAE)
    for ``target`` and write ``out``; ``num_heads`` only sizes the checking model.

    The file is written next to ``out`` first, read back and loaded into the target
    model; ``out`` appears only if that succeeds.

    Raises:
        ConversionError: bad input or a result that does not load (nothing is written).
    """
    spec = check_target(target)
    encoder = encoder_state_dict(read_checkpoint(src), src)
    arch = infer_arch(encoder, num_heads)
    converted = spec.rename(encoder)
    meta = dict(converter='mixedae.convert', source=str(src), target=target,
                arch=asdict(arch))
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + '.partial')
    try:
        torch.save(dict(state_dict=converted, meta=meta) if spec.wrap_state_dict
                   else converted, partial)
        written = load_checkpoint_file(str(partial), map_location='cpu')
        missing = load_into_target(written.get('state_dict', written), target, arch, src)
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    return ConversionReport(str(out_path), target, arch, len(converted), missing)
