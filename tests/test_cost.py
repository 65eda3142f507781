"""The cost measurement (mixedae.benchmark): training steps of several configs timed side
by side, as the cost stage and benchmarks/pretrain_step_cpu.py run it."""
import pytest
import torch
from mmengine.config import Config

from conftest import TINY_MAE, TINY_MIXEDAE
from mixedae.benchmark import StepCase, StepTimes, measure_costs, paired_ratios
from mixedae.benchmark.step_time import time_interleaved


def test_paired_ratios_are_per_round():
    times = {'base': StepTimes(wall=[1., 2., 4., 1.], cpu=[1., 1., 1., 1.]),
             'other': StepTimes(wall=[1.1, 2.4, 4.4, 1.2], cpu=[2., 2., 2., 3.])}
    wall = paired_ratios(times, 'base', 'wall')
    # per-round ratios 1.1, 1.2, 1.1, 1.2: a drift of the machine's speed cancels out
    assert wall['other'].median == pytest.approx(1.15)
    assert (wall['other'].low, wall['other'].high) == pytest.approx((1.1, 1.2))
    assert vars(wall['base']) == {'median': 1., 'low': 1., 'high': 1.}
    assert paired_ratios(times, 'base', 'cpu')['other'].median == pytest.approx(2.)


def test_rounds_interleave_the_cases():
    order = []
    cases = [StepCase(name, lambda name=name: order.append(name)) for name in 'ab']
    times = time_interleaved(cases, repeats=3, warmup=1, steps=2)
    assert order == ['a', 'b'] + ['a', 'a', 'b', 'b'] * 3     # warm-up, then turns
    assert all(len(t.wall) == len(t.cpu) == 3 for t in times.values())
    with pytest.raises(ValueError, match='repeats >= 1'):
        time_interleaved(cases, repeats=0)


def test_measure_costs_of_tiny_configs():
    """MAE and MixedAE at the tiny configs' shapes (a batch of 8: two mixes of r=4)."""
    configs = {'mae': Config.fromfile(str(TINY_MAE)),
               'mixedae': Config.fromfile(str(TINY_MIXEDAE))}
    record = measure_costs(configs, 'mae', torch.device('cpu'), batch=8, repeats=3)
    assert record['device'] == 'cpu' and record['clock'] == 'cpu'
    assert record['device_name'].startswith('cpu: ')
    assert (record['repeats'], record['warmup'], record['steps']) == (3, 1, 1)
    for name in configs:
        m = record['methods'][name]
        assert (m['batch'], m['img_size'], m['precision']) == (8, 32, 'fp32')
        assert len(m['wall_s']) == len(m['cpu_s']) == 3 and m['seconds'] > 0
    assert record['ratios']['mae'] == {'median': 1., 'low': 1., 'high': 1.}
    mixed = record['ratios']['mixedae']
    assert 0 < mixed['low'] <= mixed['median'] <= mixed['high']
    assert record['failed'] == {}
    # a config that cannot step (the batch must hold whole mixes) is named, not timed
    with pytest.raises(ValueError, match='no config could be stepped: mixedae: .*mix_ratio'):
        measure_costs({'mixedae': configs['mixedae']}, 'mae', torch.device('cpu'), batch=6,
                      repeats=1)
