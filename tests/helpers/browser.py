"""Driving the app in a real browser: start it on a loopback port, open headless Debian Chromium.

Shared by ``tests/test_leaderboard_browser.py`` and ``perf/bench_leaderboard.py`` so the numbers in
the bench come from the same page interactions the test checks.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
APP = Path(__file__).resolve().parents[2] / "leaderboard" / "app.py"  # the Space entry point


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(data_dir: Path, pending_dir: Path, log: Path, timeout: float = 90.0):
    """Run ``python leaderboard/app.py`` in a subprocess; yields its URL; stops it (by pid) afterwards."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "VALUEBENCH_LEADERBOARD_DATA": str(data_dir), "VALUEBENCH_PENDING_DIR": str(pending_dir)}
    url = f"http://127.0.0.1:{port}/"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, str(APP)], env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited with {proc.returncode}: {Path(log).read_text()[-2000:]}")
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"app did not answer on {url} within {timeout} s")
                time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def table_rows(page) -> list[list[str]]:
    """The rendered rows of the leaderboard table (virtualised: only rows in view are in the DOM)."""
    return page.eval_on_selector_all(
        "#board .virtual-row", "rs => rs.map(r => Array.from(r.querySelectorAll('[role=gridcell]'))"
        ".map(c => c.innerText.trim()))")


def grid_rows(page, selector: str) -> list[list[str]]:
    """Rendered rows of any Gradio dataframe (by its elem_id selector)."""
    return page.eval_on_selector_all(
        f"{selector} .virtual-row", "rs => rs.map(r => Array.from(r.querySelectorAll('[role=gridcell]'))"
        ".map(c => c.innerText.trim()))")


def table_headers(page) -> list[str]:
    """Header texts without the zero-width breaks the board puts after hyphens (and the ' · bound b' suffix kept)."""
    return page.eval_on_selector_all(
        "#board thead th", "hs => hs.map(h => h.innerText.replace(/\\u200b/g, '').replace(/\\s+/g, ' ').trim())")


def header_of(headers: list[str], prefix: str) -> int:
    """Index of the header that is ``prefix`` or starts with ``prefix + ' ·'`` (a task column with its bound)."""
    return next(i for i, h in enumerate(headers) if h == prefix or h.startswith(prefix + " ·"))


def first_load(page, url: str) -> float:
    """Seconds from navigation until the table shows its first data row."""
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#board .virtual-row [role=gridcell]")
    return time.perf_counter() - t0


def filter_change(page, label: str, expect_gone: str) -> float:
    """Seconds from ticking a filter checkbox until the table no longer has column ``expect_gone`` (a header that
    is it, or starts with it followed by ' ·', zero-width breaks ignored)."""
    t0 = time.perf_counter()
    page.get_by_label(label, exact=True).check()
    page.wait_for_function(
        "h => !Array.from(document.querySelectorAll('#board thead th')).some(e => {"
        " const t = e.innerText.replace(/\\u200b/g, '').replace(/\\s+/g, ' ').trim();"
        " return t === h || t.startsWith(h + ' ·'); })", arg=expect_gone)
    return time.perf_counter() - t0
