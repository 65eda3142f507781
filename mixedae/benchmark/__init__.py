"""Side-by-side measurements of training steps (the study's cost stage and the
``benchmarks/`` scripts share them)."""
from .cost import measure_costs
from .step_time import (Ratio, StepCase, StepTimes, build_train_step, clock_for,
                        default_device, device_description, paired_ratios, time_interleaved)

__all__ = ['Ratio', 'StepCase', 'StepTimes', 'build_train_step', 'clock_for',
           'default_device', 'device_description', 'measure_costs', 'paired_ratios',
           'time_interleaved']
