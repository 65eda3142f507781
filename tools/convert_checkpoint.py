"""Turn pre-trained ViT weights into backbone weights for a downstream codebase.

    python tools/convert_checkpoint.py SRC --to {mmpretrain,mmdet,mmseg,timm} OUT
        [--from {mmengine,mae,timm,beit2mmseg}]

SRC: a MixedAE / naive-mix / mmpretrain-MAE pre-training checkpoint (zip or legacy
format), the official MAE release or an MAE training checkpoint, a timm ViT state dict
(.pth, .bin, .safetensors) or mmseg's beit2mmseg.py output; the layout is detected
(``--from`` insists on one). Keeps the encoder only (no segment embedding, [MASK] token,
decoder or projector), renames its keys for the target, then loads the written file into
the target model and reports missing/unexpected keys. Any problem exits with status 1 and
writes no file. Sources: ``mixedae/convert/sources.py``; targets:
``mixedae/convert/targets.py``.
"""
import argparse
import sys

from mixedae.convert import FORMATS, TARGETS, ConversionError, convert_checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='pre-trained weights: our / mmpretrain pre-training '
                        'checkpoint, official MAE file, timm state dict or beit2mmseg output')
    parser.add_argument('--to', required=True, choices=sorted(TARGETS),
                        help='the downstream codebase')
    parser.add_argument('out', help='output file')
    parser.add_argument('--from', dest='source_format', choices=sorted(FORMATS),
                        help='the layout of SRC (default: detected)')
    parser.add_argument('--num-heads', type=int, default=None,
                        help='attention heads of the checking model (default: the standard '
                             'value of the width, else 64-dim heads)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        report = convert_checkpoint(args.src, args.to, args.out, args.num_heads,
                                    args.source_format)
    except ConversionError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
