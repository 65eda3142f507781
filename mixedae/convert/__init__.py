"""Pre-training checkpoint -> backbone weights for mmpretrain, mmdet, mmseg and timm."""
from .checkpoint import ConversionReport, convert_checkpoint, load_into_target
from .encoder import ConversionError, EncoderArch, encoder_state_dict, infer_arch
from .targets import TARGETS

__all__ = ['TARGETS', 'ConversionError', 'ConversionReport', 'EncoderArch',
           'convert_checkpoint', 'encoder_state_dict', 'infer_arch',
           'load_into_target']
