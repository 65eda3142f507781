# Scalars to vis_data/scalars.json (LocalVisBackend: what tools/tabulate.py reads) and to
# TensorBoard event files (`tensorboard --logdir WORK_DIR`), as mmdet's ViTDet configs log.
# The configs set `visualizer = dict(vis_backends=...)` to this list (the upstream base they
# also inherit defines `visualizer`, which a sibling base may not restate). Each runtime
# base inherits this file; a config inherits one runtime.
local_and_tensorboard = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
