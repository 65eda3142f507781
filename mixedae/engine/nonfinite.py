"""Stop training, or skip the step, when a loss term becomes NaN or Inf: before the
optimizer step spreads it into the weights and before a checkpoint is written.

The check sits in front of the optimizer wrapper's ``update_params`` (backward + step),
on the loss value computed by the forward pass, and every rank takes the same decision.
Gradient overflow under fp16 loss scaling is a different thing and stays the business of
``AmpOptimWrapper``'s GradScaler (it skips such steps and lowers the scale itself).
"""
import logging
import math
from typing import Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import HOOKS

ACTIONS = ('stop', 'skip')
SKIPPED_KEY = 'nonfinite_skipped_steps'  # message-hub info, kept in checkpoints


class NonFiniteLossError(RuntimeError):
    """A loss term was NaN or Inf and the hook was told to stop."""


def all_ranks_finite(loss: torch.Tensor) -> bool:
    """True if ``loss`` is finite on every rank (one tiny all-reduce when distributed)."""
    finite = torch.isfinite(loss.detach()).all().to(torch.int32)
    all_reduce(finite, op='min')
    return bool(finite)


def describe_terms(outputs: Optional[dict]) -> str:
    """``'loss_rec=nan'`` for the non-finite loss terms of this rank's ``outputs``."""
    bad = [f'{key}={float(value)}' for key, value in (outputs or {}).items()
           if 'loss' in key and key != 'loss' and not math.isfinite(float(value))]
    return ', '.join(bad) or 'none on this rank (non-finite on another rank)'


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Guard the optimizer step against a non-finite loss.

    Args:
        action: ``'stop'`` raises :class:`NonFiniteLossError` naming the iteration and
            the loss terms; ``'skip'`` drops the step (no backward, no optimizer update),
            warns, and counts skipped steps in the message hub.
        max_consecutive_skips: with ``'skip'``, stop once more steps than this were
            skipped in a row (a diverged run is not silently trained on).

    In both cases the step with the bad loss never reaches the weights, and the hook runs
    before the logger and checkpoint hooks, so no checkpoint of that iteration is written.
    """

    priority = 'ABOVE_NORMAL'  # before the logger and checkpoint hooks

    def __init__(self, action: str = 'stop', max_consecutive_skips: int = 10) -> None:
        if action not in ACTIONS:
            raise ValueError(f'NonFiniteLossHook: action must be one of {ACTIONS}, '
                             f'got {action!r}')
        self.action = action
        self.max_consecutive_skips = max_consecutive_skips
        self.consecutive_skips = 0
        self.step_skipped = False

    def before_train(self, runner) -> None:
        """Put the finiteness check in front of ``optim_wrapper.update_params``."""
        optim_wrapper = runner.optim_wrapper
        if not isinstance(optim_wrapper, OptimWrapper):
            raise TypeError('NonFiniteLossHook needs a single OptimWrapper, got '
                            f'{type(optim_wrapper).__name__}')
        update_params = optim_wrapper.update_params

        def checked_update_params(loss: torch.Tensor, *args, **kwargs) -> None:
            self.step_skipped = not all_ranks_finite(loss)
            if not self.step_skipped:
                update_params(loss, *args, **kwargs)

        optim_wrapper.update_params = checked_update_params

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not self.step_skipped:
            self.consecutive_skips = 0
            return
        self.step_skipped = False
        self.consecutive_skips += 1
        message = (f'iteration {runner.iter + 1}: non-finite loss '
                   f'({describe_terms(outputs)})')
        if self.action == 'stop':
            raise NonFiniteLossError(
                f'{message}; training stopped before the optimizer step, so the weights '
                f'are those of iteration {runner.iter} and the last checkpoint is '
                f'intact. Resume with --resume once the cause is fixed, or use '
                f"NonFiniteLossHook(action='skip').")
        if self.consecutive_skips > self.max_consecutive_skips:
            raise NonFiniteLossError(
                f'{message}; {self.consecutive_skips} consecutive steps skipped '
                f'(max_consecutive_skips={self.max_consecutive_skips}): the run diverged')
        skipped = runner.message_hub.get_info(SKIPPED_KEY, 0) + 1
        runner.message_hub.update_info(SKIPPED_KEY, skipped)
        print_log(f'{message}; optimizer step skipped ({skipped} skipped in this run)',
                  logger='current', level=logging.WARNING)
