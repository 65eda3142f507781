"""Open a page in a real headless browser: Debian's Chromium, driven through its
chromedriver by selenium. The Debian packages are installed when absent (apt-get, as
root), as the test set-up of this project may do."""
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

PACKAGES = ('chromium', 'chromium-driver')


def chromium_paths() -> tuple[str, str]:
    """(browser, driver), installing Debian's packages if either is missing."""
    browser, driver = shutil.which('chromium'), shutil.which('chromedriver')
    if browser and driver:
        return browser, driver
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        pytest.fail(f'headless Chromium is missing: apt-get install {" ".join(PACKAGES)}')
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    for command in (['apt-get', 'update', '-qq'],
                    ['apt-get', 'install', '-y', '-qq', *PACKAGES]):
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode:
            pytest.fail(f'{" ".join(command)} failed:\n{result.stderr[-2000:]}')
    return shutil.which('chromium'), shutil.which('chromedriver')


@contextmanager
def headless_chromium(width: int = 1400, height: int = 1000) -> Iterator:
    """A selenium WebDriver of a headless Chromium window of that size."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                f'--window-size={width},{height}'):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def full_page_screenshot(chrome, path: Path) -> None:
    """Resize the window to the whole document, then save a PNG of it."""
    width = chrome.execute_script('return document.documentElement.scrollWidth')
    height = chrome.execute_script('return document.documentElement.scrollHeight')
    chrome.set_window_size(max(width, 800), height + 100)
    if not chrome.save_screenshot(str(path)):
        raise OSError(f'could not write {path}')
