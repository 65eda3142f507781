"""Figures of what a mixing model does with one group of images (``tools/visualize.py``):
the mixed input, each image's reconstruction, and which keys a query patch keeps; and
of what a masking model (MAE) does with a few images (the study report's baseline)."""
from .grid import grid_size, render_grid, render_masking_grid, write_png
from .loading import load_mixing_model, load_pretraining_model, read_square_images
from .masking import MaskProbe, probe_masking
from .probe import MixProbe, probe_group

__all__ = ['MaskProbe', 'MixProbe', 'grid_size', 'load_mixing_model',
           'load_pretraining_model', 'probe_group', 'probe_masking', 'read_square_images',
           'render_grid', 'render_masking_grid', 'write_png']
