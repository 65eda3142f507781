"""MixedAE on OpenMMLab.

Importing ``mixedae`` registers nothing and imports nothing heavy, so that the study
driver, the tables and the report's readers start in a fraction of a second. The
modules that build models register themselves where a model is built:
``custom_imports = dict(imports=['mixedae.modules'])`` in every config of ``configs/``
(:mod:`mixedae.modules` imports them all), or ``import mixedae.modules`` in your own code.
"""
__version__ = '0.1.0'
