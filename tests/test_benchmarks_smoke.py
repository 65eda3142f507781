"""The benchmark scripts run end to end (tiny models and images, CPU, in-process)."""
import math
import re
import sys

import pytest

from conftest import ROOT


@pytest.fixture
def run_script(monkeypatch, capsys):
    """Run ``benchmarks/<name>.py``'s ``main()`` with ``args``; return its stdout."""
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))

    def run(name: str, *args: str) -> str:
        module = __import__(name)
        monkeypatch.setattr(sys, 'argv', [name, *args])
        module.main()
        return capsys.readouterr().out
    return run


def table_rows(out: str, key_columns: int) -> dict:
    """Cells of the rows below the printed table's header, keyed by the first columns."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('variant'))
    rows = [line.split() for line in lines[start + 1:] if line.strip()]
    return {tuple(cells[:key_columns]): cells for cells in rows}


def test_gpu_benchmark_smoke_mode_on_cpu(run_script):
    out = run_script('pretrain_step_gpu', '--device', 'cpu', '--tiny', '--modes', 'eager',
                     'compiled', '--compile-backend', 'eager', '--warmup', '1',
                     '--attn-impls', 'auto', 'sdpa_mask')
    rows = table_rows(out, 2)
    assert set(rows) == {(v, m) for v in ('mae', 'naive_mix', 'mixedae', 'mixedae:sdpa_mask')
                         for m in ('eager', 'compiled')}
    for (variant, mode), cells in rows.items():
        ms, img_s, vs_mae, gflop = (float(cells[i]) for i in (2, 3, 4, 7))
        assert ms > 0 and img_s == pytest.approx(8 / ms * 1e3, rel=0.01, abs=1)
        assert gflop > 0
        if variant == 'mae':
            assert vs_mae == 1.0
    assert rows[('mixedae:sdpa_mask', 'eager')][7] == rows[('mixedae', 'eager')][7]


def test_cpu_benchmark_smoke(run_script):
    out = run_script('pretrain_step_cpu', '--tiny', '--batch', '8', '--repeats', '2',
                     '--variants', 'mae', 'mixedae:reference')
    rows = table_rows(out, 1)
    assert set(rows) == {('mae',), ('mixedae:reference',)}
    # wall s, cpu s, ratio, IQR, step peak, ratio, process peak, ratio
    mae, mixed = rows[('mae',)], rows[('mixedae:reference',)]
    assert mae[3] == '1.000' and mae[4] == '1.000-1.000'            # ratios to itself
    assert mae[6] == mae[8] == '1.000'
    low, high = map(float, mixed[4].split('-'))
    assert low <= float(mixed[3]) <= high
    assert all(float(x) > 0 for x in (*mixed[1:4], *mixed[5:]))


def test_cpu_benchmark_rejects_unknown_variant(run_script):
    with pytest.raises(SystemExit):
        run_script('pretrain_step_cpu', '--tiny', '--variants', 'mae', 'mixeda')


def test_data_pipeline_smoke(run_script):
    out = run_script('data_pipeline', '--num-images', '4', '--passes', '1',
                     '--img-per-s', '1000', '--jpeg-check-cost')
    assert re.search(r'4 JPEGs 500x375 q90 \(mean \d+ KiB\)', out)
    kib = int(re.search(r'mean (\d+) KiB', out).group(1))
    assert 60 <= kib <= 200, 'generated JPEGs should be photograph-sized'
    rate = float(re.search(r'per worker: (\d+) \(wall clock\)', out).group(1))
    workers = int(re.search(r'for 1000 img/s: (\d+) \(wall clock\)', out).group(1))
    assert workers == math.ceil(1000 / rate)
    ratio = float(re.search(r'checked / unchecked: ([\d.]+) \(wall\)', out).group(1))
    assert 0 < ratio < 2
