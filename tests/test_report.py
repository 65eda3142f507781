"""The session's tiny study (conftest.study): its report page opened in headless Chromium
(every image loaded, checked from the browser; the table there; a screenshot), and its
runs' TensorBoard event files next to the scalars tabulate reads."""
import base64
import json
import re

import cv2
import pytest

from browser import full_page_screenshot, headless_chromium

IMAGES = 'return Array.from(document.images, i => ({alt: i.alt, src: i.src.slice(0, 22), ' \
    'complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}))'
ROWS = "return Array.from(document.querySelectorAll('table#{} tbody tr'), " \
    "r => Array.from(r.cells, c => c.textContent))"


def load(chrome, url: str) -> list[dict]:
    """Open ``url``, wait for the document and its images; return the images' state."""
    chrome.get(url)
    chrome.execute_async_script(
        'const done = arguments[arguments.length - 1];'
        'Promise.all(Array.from(document.images, i => i.decode().catch(() => null)))'
        '.then(() => done());')
    return chrome.execute_script(IMAGES)


@pytest.fixture(scope='module')
def report(study):
    cwd, result = study
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    path = cwd / 'study' / 'report' / 'report.html'
    assert f'study report: {path}' in result.stdout      # the pipeline prints its path
    return path


def test_report_opens_in_chromium(report, tmp_path):
    with headless_chromium() as chrome:
        images = load(chrome, report.as_uri())
        results = chrome.execute_script(ROWS.format('results'))
        costs = chrome.execute_script(ROWS.format('cost'))
        external = chrome.execute_script(
            "return document.querySelectorAll('link[href], script[src]').length")
        full_page_screenshot(chrome, tmp_path / 'report.png')
        # the check can fail: an image the browser cannot decode is reported as such
        broken = tmp_path / 'broken.html'
        broken.write_text('<img alt="bad" src="data:image/png;base64,'
                          + base64.b64encode(b'\x89PNG\r\n\x1a\nnot a png').decode() + '">')
        bad = load(chrome, broken.as_uri())
    assert bad == [dict(alt='bad', src='data:image/png;base64,', complete=True, width=0,
                        height=0)]
    # deltas, accuracy vs cost, training curves and MixedAE's mix: all decoded, all in
    # the page itself (self-contained)
    assert len(images) == 4, images
    for image in images:
        assert image['complete'] and image['width'] > 0 and image['height'] > 0, image
        assert image['src'] == 'data:image/png;base64,', image
    alts = ' | '.join(i['alt'] for i in images)
    for part in ('Measured deltas', 'Transfer results against the measured pre-training cost',
                 'Pre-training scalars', 'mixedae: iter_2.pth: r = 4 training images'):
        assert part in alts, alts
    assert external == 0
    assert [row[0] for row in results] == ['mixedae']
    assert results[0][1].startswith('measured (pt 2 iters')
    # every measured cell with its interval (the study has no baseline: no delta)
    assert all(re.fullmatch(r'-?\d+\.\d\d \[-?\d+\.\d\d, -?\d+\.\d\d\]', cell)
               for cell in results[0][2:7]), results[0]
    assert 'What this study can tell' in report.read_text()
    assert costs[0][0] == 'mixedae' and float(costs[0][1]) > 0 and costs[0][3] == '8'
    shot = cv2.imread(str(tmp_path / 'report.png'))
    assert shot.shape[0] > 2000 and shot.shape[1] >= 1200 and shot.std() > 20


def test_runs_log_to_tensorboard(study):
    """Every training stage wrote TensorBoard events beside vis_data/scalars.json, with
    the same scalars (the tables were made from the JSON file)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    cwd, _ = study
    root = cwd / 'study' / 'mixedae'
    for task in ('pretrain', 'cls_finetune', 'cls_linear', 'det_coco', 'seg_ade20k'):
        events = sorted(root.glob(f'{task}/**/vis_data/events.out.tfevents.*'))
        assert events, task
    vis = next(root.glob('pretrain/*/vis_data'))
    logged = [json.loads(line) for line in (vis / 'scalars.json').read_text().splitlines()]
    board = EventAccumulator(str(vis)).Reload()
    assert {'loss', 'loss_rec', 'loss_hc', 'homo_acc'} <= set(board.Tags()['scalars'])
    losses = [(e.step, e.value) for e in board.Scalars('loss')]
    assert losses == [(r['step'], pytest.approx(r['loss'])) for r in logged]
