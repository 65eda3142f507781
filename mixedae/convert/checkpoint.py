"""Convert a pre-training checkpoint file and check it in the target model."""
import os
import os.path as osp
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..atomic_write import FileWriteError, atomic_output
from ..engine.checkpoint_loading import load_checkpoint_file
from ..engine.tensor_digest import add_tensor_digest
from .encoder import ConversionError, EncoderArch, infer_arch
from .sources import read_source
from .targets import TARGETS, Target


@dataclass(frozen=True)
class ConversionReport:
    """What was written and how it loaded into the target model."""
    out: str
    target: str
    arch: EncoderArch
    num_tensors: int
    missing: tuple[str, ...]       # none a pre-training provides (else an error is raised)
    source: str = ''               # what the source file is (format, file type)

    def __str__(self) -> str:
        a = self.arch
        text = (f'{self.out}: {self.num_tensors} tensors for {self.target} (ViT '
                f'{a.embed_dims}d x {a.num_layers}, patch {a.patch_size}, {a.img_size} px) '
                f'from {self.source or "the checkpoint"}; loaded into '
                f'{TARGETS[self.target].model_name}: unexpected keys: none, missing keys: ')
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


def check_output_path(src: str, out: str) -> None:
    """Refuse an output that is the input: the same path, a symlink or hard link to it,
    or a path that resolves to it."""
    same = osp.realpath(src) == osp.realpath(out) or (
        osp.exists(src) and osp.exists(out) and osp.samefile(src, out))
    if same:
        raise ConversionError(f'{out}: the output is the input checkpoint {src} (or a link '
                              'to it); converting would replace it. Choose another output')


def convert_checkpoint(src: str, target: str, out: str, num_heads: int | None = None,
                       source_format: str | None = None) -> ConversionReport:
    """Convert the pre-trained encoder in ``src`` (any format of ``sources.FORMATS``,
    detected unless ``source_format`` says) for ``target`` and write ``out``;
    ``num_heads`` only sizes the checking model.

    The file is written to a new temporary file next to ``out`` (never through an existing
    file or symlink), read back and loaded into the target model; ``out`` is replaced only
    if that succeeds (:func:`~mixedae.atomic_write.atomic_output`). Wrapped outputs
    (``{'state_dict', 'meta'}``) carry the digest of their tensors.

    Raises:
        ConversionError: bad input, an output that is the input, a result that does
            not load, or a failed write (full disk...); nothing is written.
    """
    spec = check_target(target)
    check_output_path(src, out)
    source = read_source(src, source_format)
    arch = infer_arch(source.encoder, num_heads)
    converted = spec.rename(source.encoder)
    meta = dict(converter='mixedae.convert', source=str(src), source_format=source.format,
                target=target, arch=asdict(arch))
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_output(str(out_path)) as f:
            torch.save(add_tensor_digest(dict(state_dict=converted, meta=meta))
                       if spec.wrap_state_dict else converted, f)
            f.flush()
            written = load_checkpoint_file(f.name, map_location='cpu')
            missing = load_into_target(written.get('state_dict', written), target, arch,
                                       src)
    except FileWriteError as e:
        raise ConversionError(str(e)) from e
    return ConversionReport(str(out_path), target, arch, len(converted), missing,
                            source.description)
