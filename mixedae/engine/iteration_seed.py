"""Model randomness that depends on the iteration, so a resumed run draws what an
uninterrupted one would.

mmengine seeds torch, numpy and ``random`` once, when the Runner starts; ``--resume``
restores weights, optimizer, schedulers and the iteration counter but restarts the
generators from that seed. MixedAE's mixing masks (``torch.rand`` in ``mixing_sources``)
and drop-path would then repeat the draws of the first iterations after every resume.
:class:`PerIterationSeedHook` seeds torch (CPU and all CUDA devices) from the run's seed
and the iteration number before every training iteration; nothing needs to be stored in
the checkpoint. With ``randomness.diff_rank_seed=True`` (every transfer config; the demo
pre-training ones) ``runner.seed`` is seed + rank, so each rank keeps its own stream, as
detectron2's seed + rank: different drop-path masks per GPU, each replayed on resume.

numpy and ``random`` are left alone on purpose: only the data pipeline uses them, and
mmengine replays it on resume. ``IterBasedTrainLoop`` re-reads the batches already trained
on (same sampler order, same worker or main-process numpy streams), so an iteration-based
run resumes exactly, with or without data workers. An ``EpochBasedTrainLoop`` resumes at
an epoch boundary with the same sample order (``DefaultSampler``: seed + epoch); its
augmentations repeat exactly only with ``persistent_workers=False`` (workers then start
from the run's seed every epoch, in both runs); persistent workers restart their streams
on resume, giving different (equally distributed) crops.
"""
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def iteration_seed(seed: int, iteration: int) -> int:
    """A 64-bit torch seed for ``iteration`` of a run seeded with ``seed``."""
    entropy = [seed & 0xFFFF_FFFF_FFFF_FFFF, iteration]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


@HOOKS.register_module()
class PerIterationSeedHook(Hook):
    """Seed torch's generators from ``(runner.seed, runner.iter)`` before each iteration."""

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        torch.manual_seed(iteration_seed(runner.seed, runner.iter))
