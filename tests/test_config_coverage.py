"""Every config under configs/ is built by some test (a config that cannot be built is a
bug): this test fails when a config is added without one."""
from conftest import CONFIGS, ROOT

TESTS = ROOT / 'tests'


def test_every_config_is_named_by_a_test():
    configs = sorted(p for p in CONFIGS.rglob('*.py') if p.parent.name != '_base_')
    tests = '\n'.join(p.read_text() for p in TESTS.glob('test_*.py'))
    tests += (TESTS / 'conftest.py').read_text()
    # a test names a config by its file name, or collects its whole folder by glob
    globbed = {'mae', 'mixedae', 'naive_mix', 'classification', 'detection', 'segmentation'}
    unnamed = [str(p.relative_to(ROOT)) for p in configs
               if p.name not in tests and p.parent.name not in globbed]
    assert not unnamed, f'configs no test builds: {unnamed}'
    assert len(configs) > 30
