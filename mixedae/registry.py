"""mixedae's registry scope, after mmengine's ``<scope>.registry`` convention.

``MODELS`` is a child of mmdet's model registry with the scope ``mixedae``. ViTDet's neck
and norm live here, as ``mixedae.SimpleFPN`` and ``mixedae.LN2d``, not in mmdet's own
registry: mmdet's ``projects/ViTDet`` registers ``ViT``, ``SimpleFPN`` and ``LN2d``
there, and can then be imported before or after ``mixedae`` in one process. An mmdet
config names ours ``type='mixedae.SimpleFPN'`` (mmengine imports this module when it
first meets a ``mixedae.`` name) and ViTDet's ``type='SimpleFPN'``.
"""
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMDET_MODELS, scope='mixedae',
                  locations=['mixedae.transfer'])
