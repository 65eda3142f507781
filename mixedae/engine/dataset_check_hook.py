"""Check, before the first iteration, the files and annotations the datasets refer to."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..data.checks import check_dataset_annotations, check_dataset_files


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Run :func:`~mixedae.data.checks.check_dataset_files` and
    :func:`~mixedae.data.checks.check_dataset_annotations` on the train and val datasets
    before training and on the test dataset before testing.

    One ``stat`` per referenced file (COCO train2017: 118k, ADE20K: 40k) and one more
    read of each COCO json; meant for annotation-file datasets, whose entries may point
    at files that are not there or hold annotations mmdet drops silently.

    Args:
        skip_bad: warn with the counts of faulty annotations (which mmdet then drops)
            instead of stopping the run.
    """

    priority = 'VERY_HIGH'

    def __init__(self, skip_bad: bool = False) -> None:
        self.skip_bad = skip_bad

    def before_train(self, runner) -> None:
        self.check(runner.train_dataloader.dataset, 'train_dataloader.dataset')
        if runner.val_loop is not None:
            self.check(runner.val_dataloader.dataset, 'val_dataloader.dataset')

    def before_test(self, runner) -> None:
        self.check(runner.test_dataloader.dataset, 'test_dataloader.dataset')

    def check(self, dataset, key: str) -> None:
        check_dataset_files(dataset, key)
        check_dataset_annotations(dataset, key, self.skip_bad)
