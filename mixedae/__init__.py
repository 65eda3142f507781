"""MixedAE on OpenMMLab: importing this package registers its modules."""
__version__ = '0.1.0'
