"""Every kind of stage a study has, in the order the data flows: make the tiny data,
pre-train (:class:`TrainStage`), convert, transfer (:class:`TrainStage`), time the
pre-training steps side by side, tabulate, report."""
from .base import Attempt, Context, Stage
from .convert import ConvertStage
from .cost import CostStage
from .prepare import PrepareTinyDatasets
from .report import ReportStage
from .tabulate import TabulateStage
from .train import TrainStage, total_batch_options

__all__ = ['Attempt', 'Context', 'ConvertStage', 'CostStage', 'PrepareTinyDatasets',
           'ReportStage', 'Stage', 'TabulateStage', 'TrainStage', 'total_batch_options']
