"""Check, before the first iteration, that every file the datasets refer to exists."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..data.checks import check_dataset_files


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Run :func:`~mixedae.data.checks.check_dataset_files` on the train and val datasets
    before training and on the test dataset before testing.

    One ``stat`` per referenced file (COCO train2017: 118k, ADE20K: 40k); meant for
    annotation-file datasets, whose entries may point at files that are not there.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        check_dataset_files(runner.train_dataloader.dataset, 'train_dataloader.dataset')
        if runner.val_loop is not None:
            check_dataset_files(runner.val_dataloader.dataset, 'val_dataloader.dataset')

    def before_test(self, runner) -> None:
        check_dataset_files(runner.test_dataloader.dataset, 'test_dataloader.dataset')
