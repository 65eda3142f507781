"""Train a config of mmpretrain, mmdet or mmseg (pre-training or transfer).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--no-validate] [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse

import mixedae.modules  # noqa: F401  (registers the modules)
from mixedae.engine.launch import add_common_args, apply_train_args, build_runner, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument('--resume', nargs='?', const='auto',
                        help='resume from CKPT, or from the latest checkpoint in the '
                        'work dir if no path is given')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch / auto_scale_lr.base_batch_size')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = apply_train_args(load_config(args), args)
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
