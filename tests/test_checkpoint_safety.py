"""Checkpoint files are data: no pickled or stored code runs (a marker file is never
created), remote checkpoints take the same safe loader, corrupt files are named, tensors
are checked against their digest, writes are atomic (full disk: an error naming the file,
the old content kept), and the converter never overwrites its input or writes through a
link."""
import contextlib
import os
import random
import resource
import signal
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from conftest import TINY_MIXEDAE, save_pretraining_checkpoint, tiny_pretrain_config
from mixedae.convert import ConversionError, convert_checkpoint
from mixedae.engine import (CorruptCheckpointError, FileWriteError, StoredConfigError,
                            UnsafeCheckpointError, add_tensor_digest, atomic_output,
                            config_from_text, load_checkpoint_file, write_atomically)
from mixedae.visualize import load_mixing_model


def marker_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


class Evil:
    """Pickled by reference (``test_checkpoint_safety.Evil``), runs code when rebuilt."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (marker_code(self.marker),))


class Shell:
    """Pickles as a call of ``os.system``: torch blocks the module itself (a differently
    worded refusal than an unlisted global)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


class Carrier:
    """A plain object: its class is the pickled global."""


def tensors_only(**meta) -> dict:
    return {'state_dict': {'w': torch.arange(6.).reshape(2, 3)}, 'meta': meta}


# ---------------------------------------------------------------- no code runs


def test_pickled_code_is_refused_naming_the_object(tmp_path):
    marker = tmp_path / 'marker'
    path = tmp_path / 'evil.pth'
    torch.save({**tensors_only(), 'x': Evil(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as error:
        load_checkpoint_file(str(path))
    message = str(error.value)
    assert str(path) in message and 'builtins.exec' in message
    assert 'weights_only' not in message and 'False' not in message
    torch.save({'x': Carrier()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'test_checkpoint_safety\.Carrier'):
        load_checkpoint_file(str(path))
    for legacy in (False, True):
        torch.save({**tensors_only(), 'x': Shell(marker)}, path,
                   _use_new_zipfile_serialization=not legacy)
        with pytest.raises(UnsafeCheckpointError) as error:
            load_checkpoint_file(str(path))
        assert f'pickled {os.system.__module__}.system' in str(error.value)
        assert 'weights_only' not in str(error.value)
    assert not marker.exists()


def test_remote_checkpoint_uses_the_safe_loader(tmp_path, monkeypatch):
    """A URL whose file is already in torch.hub's cache loads from there, through the
    safe loader (torch.hub's own loader would unpickle with weights_only=False)."""
    marker = tmp_path / 'marker'
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torch.save({**tensors_only(), 'x': Evil(marker)}, cache / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match='builtins.exec'):
        CheckpointLoader.load_checkpoint('https://example.invalid/models/evil.pth')
    assert not marker.exists()
    torch.save(tensors_only(cfg="x = __import__('os')"), cache / 'good.pth')
    loaded = CheckpointLoader.load_checkpoint('https://example.invalid/good.pth')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(6.).reshape(2, 3))
    assert 'cfg' not in loaded['meta']           # dropped: mmengine's inferencers run it


def test_resume_does_not_execute_meta_config(pretrain_data_root, tmp_path):
    """mmengine's Runner.resume runs Config.fromstring(meta['config'])."""
    marker = tmp_path / 'marker'
    crafted = tmp_path / 'crafted.pth'
    state_dict = save_pretraining_checkpoint(crafted)
    torch.save({'state_dict': state_dict,                  # tensors and strings only
                'meta': {'epoch': 0, 'iter': 1, 'config': marker_code(marker)},
                'message_hub': dict(log_scalars={}, runtime_info={}, resumed_keys={})},
               crafted)
    cfg = tiny_pretrain_config(TINY_MIXEDAE.name, pretrain_data_root, tmp_path / 'work',
                               **{'train_cfg.max_iters': 1, 'resume': True,
                                  'load_from': str(crafted)})
    runner = Runner.from_cfg(cfg)
    runner.train()                                  # resumes at its last iteration
    assert runner.iter == 1 and not marker.exists()


@pytest.fixture(scope='module')
def stored_config_text() -> str:
    """What mmengine stores in meta['cfg']: the tiny config's pretty_text."""
    return Config.fromfile(str(TINY_MIXEDAE)).pretty_text


def test_visualize_reads_the_stored_config_as_data(tmp_path, stored_config_text):
    marker = tmp_path / 'marker'
    text = stored_config_text
    cfg = config_from_text(text, 'stored')
    assert cfg.model.to_dict() == Config.fromfile(str(TINY_MIXEDAE)).model.to_dict()
    path = tmp_path / 'evil.pth'
    save_pretraining_checkpoint(path)
    checkpoint = load_checkpoint_file(str(path))
    for payload in (marker_code(marker), f'model = dict(x={marker_code(marker)})',
                    "import os\nmodel = dict(type='MixedAE')",
                    'custom_imports = dict(imports=[__name__])'):
        checkpoint['meta']['cfg'] = text + '\n' + payload
        torch.save(checkpoint, path)
        with pytest.raises(StoredConfigError, match=f'{path} \\(meta.cfg\\): line \\d+'):
            load_mixing_model(str(path))
    assert not marker.exists()


# ---------------------------------------------------------------- corrupt files


def test_corrupt_files_are_named(tmp_path):
    good = tmp_path / 'good.pth'
    torch.save(add_tensor_digest(tensors_only(iter=3)), good)
    data = good.read_bytes()
    rng = random.Random(0)
    cases = {'empty': (b'', 'empty file'),
             'random': (rng.randbytes(4096), 'not a PyTorch checkpoint'),
             'text': (b'{"state_dict": {}}', 'not a PyTorch checkpoint')}
    for i, cut in enumerate(rng.sample(range(8, len(data) - 8), 12)):
        cases[f'cut{i}'] = (data[:cut], 'truncated or corrupt|do not match')
    for name, (content, message) in cases.items():
        path = tmp_path / f'{name}.pth'
        path.write_bytes(content)
        with pytest.raises(CorruptCheckpointError, match=message) as error:
            load_checkpoint_file(str(path))
        assert str(path) in str(error.value), name
        assert 'unsafe' not in str(error.value) and 'pickled' not in str(error.value)


def test_flipped_byte_in_a_tensor_fails_the_digest(tmp_path):
    path = tmp_path / 'ckpt.pth'
    weights = {'w': torch.linspace(0, 1, 4096)}
    torch.save(add_tensor_digest({'state_dict': weights, 'optimizer': {'m': torch.ones(8)},
                                  'meta': {}}), path)
    assert load_checkpoint_file(str(path))['meta']['tensor_sha256'].keys() == {
        'state_dict', 'optimizer'}
    data = bytearray(path.read_bytes())
    offset = bytes(data).find(weights['w'][1000:1004].numpy().tobytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError, match=f'{path}: the tensors of state_dict '
                                                     'do not match the SHA-256 digest'):
        load_checkpoint_file(str(path))

    # a file without a digest (official MAE, timm) loads unchecked; so does one a tool
    # stripped of its optimizer state
    torch.save({'model': weights}, path)
    assert torch.equal(load_checkpoint_file(str(path))['model']['w'], weights['w'])
    checked = add_tensor_digest({'state_dict': weights, 'optimizer': {'m': torch.ones(8)}})
    del checked['optimizer']
    torch.save(checked, path)
    load_checkpoint_file(str(path))


# ---------------------------------------------------------------- writes


@contextlib.contextmanager
def disk_full_after(num_bytes: int):
    """Writes past ``num_bytes`` in a file fail (RLIMIT_FSIZE: EFBIG), as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (num_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_atomic_write_keeps_the_old_file_on_a_full_disk(tmp_path):
    target = tmp_path / 'iter_4.pth'
    write_atomically(str(target), b'old')
    with disk_full_after(1 << 16), pytest.raises(FileWriteError) as error:
        with atomic_output(str(target)) as f:
            torch.save({'w': torch.zeros(1 << 16)}, f)
    assert str(error.value).startswith(f'could not write {target}: ')
    assert target.read_bytes() == b'old' and os.listdir(tmp_path) == ['iter_4.pth']

    # a kill (here: an exception) inside the block leaves the target as it was
    with pytest.raises(KeyboardInterrupt), atomic_output(str(target)) as f:
        f.write(b'half')
        raise KeyboardInterrupt
    assert target.read_bytes() == b'old' and os.listdir(tmp_path) == ['iter_4.pth']


def test_converter_never_overwrites_its_input_or_follows_links(tmp_path):
    src = tmp_path / 'pre.pth'
    save_pretraining_checkpoint(src)
    original = src.read_bytes()
    (tmp_path / 'link.pth').symlink_to(src)
    os.link(src, tmp_path / 'hard.pth')
    for out in (src, tmp_path / 'link.pth', tmp_path / 'hard.pth',
                tmp_path / 'sub' / '..' / 'pre.pth'):
        with pytest.raises(ConversionError, match='the output is the input'):
            convert_checkpoint(str(src), 'mmpretrain', str(out), num_heads=4)
    assert src.read_bytes() == original

    # the old fixed temporary name, planted as a symlink to a victim file, is not used;
    # an output that is a symlink is replaced, not written through
    victim = tmp_path / 'victim.txt'
    victim.write_text('keep')
    out = tmp_path / 'cls.pth'
    Path(f'{out}.partial').symlink_to(victim)
    (tmp_path / 'out_link.pth').symlink_to(victim)
    for target in (out, tmp_path / 'out_link.pth'):
        convert_checkpoint(str(src), 'mmpretrain', str(target), num_heads=4)
        assert not target.is_symlink()
        assert load_checkpoint_file(str(target))['meta']['tensor_sha256']   # digest kept
    assert victim.read_text() == 'keep' and src.read_bytes() == original
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.partial') and
                not p == 'cls.pth.partial']


# ---------------------------------------------------------------- the checkpoint hook


class FillDiskBeforeSaving(Hook):
    """Make writes fail from the save of iteration ``at`` on."""
    priority = 'LOWEST'

    def __init__(self, at: int, stack: contextlib.ExitStack):
        self.at, self.stack = at, stack

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['iter'] == self.at:
            self.stack.enter_context(disk_full_after(1 << 18))


def checkpoint_files(work_dir: Path) -> list:
    """Checkpoints, the pointer and temporary files (not logs or the dumped config)."""
    return sorted(p.name for p in work_dir.iterdir() if p.name.startswith(
        ('iter_', 'last_checkpoint')) or p.name.endswith('.partial'))


def test_full_disk_while_saving_keeps_the_previous_checkpoint(pretrain_data_root, tmp_path):
    """max_keep_ckpts=1: upstream deletes iter_1.pth before writing iter_2.pth."""
    work = tmp_path / 'work'
    cfg = tiny_pretrain_config(
        TINY_MIXEDAE.name, pretrain_data_root, work,
        **{'train_cfg.max_iters': 2, 'train_dataloader.batch_size': 8,
           'default_hooks.checkpoint.interval': 1,
           'default_hooks.checkpoint.max_keep_ckpts': 1})
    runner = Runner.from_cfg(cfg)
    with contextlib.ExitStack() as stack:
        runner.register_hook(FillDiskBeforeSaving(2, stack))
        with pytest.raises(FileWriteError, match=f'could not write {work}/iter_2.pth: '):
            runner.train()
    assert checkpoint_files(work) == ['iter_1.pth', 'last_checkpoint']
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_1.pth')
    kept = load_checkpoint_file(str(work / 'iter_1.pth'))    # loads, digest checked
    assert kept['meta']['iter'] == 1
    assert kept['meta']['tensor_sha256'].keys() >= {'state_dict', 'optimizer'}
