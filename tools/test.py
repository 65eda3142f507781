"""Evaluate a checkpoint with a config of mmpretrain, mmdet or mmseg.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
        [--launcher pytorch]
"""
import argparse
import os.path as osp

import mixedae.modules  # noqa: F401  (registers the modules)
from mixedae.data.checks import check_data_config
from mixedae.engine.launch import add_common_args, build_runner, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument('checkpoint', help='checkpoint file to evaluate')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    check_data_config(cfg, ('test_dataloader',))
    build_runner(cfg).test()


if __name__ == '__main__':
    main()
