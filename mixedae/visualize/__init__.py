"""Figures of what a mixing model does with one group of images (``tools/visualize.py``):
the mixed input, each image's reconstruction, and which keys a query patch keeps."""
from .grid import grid_size, render_grid, write_png
from .loading import load_mixing_model, read_square_images
from .probe import MixProbe, probe_group

__all__ = ['MixProbe', 'grid_size', 'load_mixing_model', 'probe_group',
           'read_square_images', 'render_grid', 'write_png']
