"""Pre-trained ViT weights (our pre-training checkpoints, official MAE, timm, mmseg's
beit2mmseg output) -> backbone weights for mmpretrain, mmdet, mmseg and timm; and the
hook that stops a transfer run whose checkpoint does not fill its backbone."""
from .checkpoint import ConversionReport, convert_checkpoint, load_into_target
from .encoder import ConversionError, EncoderArch, infer_arch, is_encoder_key
from .pretrained_check import PretrainedLoadCheckHook, PretrainedLoadError
from .sources import FORMATS, SourceEncoder, describe_file, detect, read_source
from .targets import TARGETS

__all__ = ['FORMATS', 'TARGETS', 'ConversionError', 'ConversionReport', 'EncoderArch',
           'PretrainedLoadCheckHook', 'PretrainedLoadError', 'SourceEncoder',
           'convert_checkpoint', 'describe_file', 'detect', 'infer_arch', 'is_encoder_key',
           'load_into_target', 'read_source']
