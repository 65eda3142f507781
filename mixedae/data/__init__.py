"""Tiny datasets in the real ImageNet / COCO / ADE20K layouts, generated from a seed.

Only numpy and cv2 are imported here; the OpenMMLab dataset classes that read these files are
imported by whoever uses them.
"""
from .scenes import SHAPES, Scene, class_hue, object_hues, render_scene
from .tiny_ade20k import make_tiny_ade20k
from .tiny_coco import COCO_CLASSES, make_tiny_coco
from .tiny_imagenet import imagenet_class_names, make_tiny_imagenet

__all__ = ['SHAPES', 'Scene', 'class_hue', 'object_hues', 'render_scene', 'COCO_CLASSES',
           'imagenet_class_names', 'make_tiny_imagenet', 'make_tiny_coco', 'make_tiny_ade20k']
