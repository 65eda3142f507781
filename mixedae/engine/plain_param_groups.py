"""Make the optimizer's parameter groups plain dicts, so that ``torch.compile`` can trace
the optimizer step inside mmengine's compiled ``train_step`` (``compile=...`` in a config).

mmengine's ``DefaultOptimWrapperConstructor`` builds each group with ``paramwise_cfg`` as a
``ConfigDict``; dynamo (torch 2.14) cannot iterate a dict subclass there and stops with
``'UserDefinedDictVariable' object has no attribute 'items'``.
"""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def plain_param_groups(optimizer) -> None:
    """Replace each parameter group by a ``dict`` with the same items (same tensors)."""
    optimizer.param_groups[:] = [dict(group) for group in optimizer.param_groups]


@HOOKS.register_module()
class PlainParamGroupsHook(Hook):
    """Before training (after the optimizer is built, before the first, compiled step):
    :func:`plain_param_groups` on every optimizer of the run."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        wrappers = getattr(runner.optim_wrapper, 'optim_wrappers', None)
        for wrapper in (wrappers.values() if wrappers else [runner.optim_wrapper]):
            plain_param_groups(wrapper.optimizer)
