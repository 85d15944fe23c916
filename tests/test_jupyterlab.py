"""JupyterLab, the first way the lab is used, driven in a real browser (Chromium through Playwright).

nbval and papermill run kernels, not the front end: a widget that fails to render (a missing lab
extension, ipywidgets and jupyterlab_widgets out of step), a bar or a live plot that never updates,
or model output that becomes live markup would pass them. Here JupyterLab runs a notebook the way
a researcher does: settings changed in the widgets reach the run, the bar and the curves move, and
a hostile completion shows as text.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

CELLS = [
    """\
from rlvr import lab
from rlvr.config import preset
cfg = preset("cpu", examples=["toy-train-00007"], steps=6, save_every=100, output_dir="run")
panel = lab.settings_panel(cfg)""",
    """\
from rlvr.runs import train_run
run_dir = train_run(panel.config(), callbacks=[lab.LivePlot(cfg.output_dir, every=1)])""",
    """\
import pandas as pd
lab.show_rollouts(pd.DataFrame({"step": [1], "example_id": ["x"], "correct": [False],
                                "completion": ["<img src=x onerror='window.pwned = 1'> </table> \\\\boxed{3}"]}))""",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on this machine serving ``tmp_path``, with its own settings; its URL prefix."""
    if CHROMIUM is None:
        pytest.skip("needs Chromium: apt-get install chromium (.ci/run installs it)")
    pytest.importorskip("playwright", reason="needs Playwright for Python: pip install -e '.[dev]'")
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / ".workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp_path / ".run")}
    env.pop("PYTEST_CURRENT_TEST", None)  # the kernel behaves as it does for a researcher
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.token=lab-test", f"--ServerApp.root_dir={tmp_path}"],
        env=env, stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_notebook_in_jupyterlab_renders_its_widgets_and_moves_its_bar_and_curves(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(nb, tmp_path / "lab.ipynb")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{jupyterlab}/lab/tree/lab.ipynb?token=lab-test")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        page.get_by_text(re.compile(r"\| Idle")).first.wait_for(timeout=90_000)  # the kernel is up (status bar)

        # The settings panel: the widgets render, and a value typed into one reaches the run.
        page.locator(".jp-Cell").nth(0).click()
        page.keyboard.press("Shift+Enter")
        steps = page.locator('.widget-inline-hbox:has(label:text-is("steps")) input')
        steps.wait_for(timeout=60_000)
        assert page.locator(".widget-dropdown select").first.input_value() == "outcome"
        steps.fill("3")
        steps.press("Enter")

        # Training: the bar reaches the 3 steps asked for in the widget, and the curves are redrawn as it goes.
        page.locator(".jp-Cell").nth(1).click()
        page.get_by_text("Run", exact=True).first.click()
        page.get_by_text("Run Selected Cell and All Below", exact=True).click()
        drawn, deadline = set(), time.monotonic() + 300
        while time.monotonic() < deadline:
            drawn |= {img.get_attribute("src") for img in page.locator(".jp-Cell").nth(1).locator("img").all()}
            if page.locator(".jp-Cell").nth(2).locator(".jp-OutputArea-output").count():  # the last cell ran
                break
            time.sleep(0.3)
        cell = page.locator(".jp-Cell").nth(1).inner_text()
        assert "run: 100%" in cell and "3/3" in cell and "training accuracy" in cell, cell
        assert "Step" not in cell and "Training Loss" not in cell  # no per-step table
        assert len(drawn) >= 2  # the live plot changed while training

        # A hostile completion is text: shown as written, never run.
        shown = page.locator(".jp-Cell").nth(2).inner_text()
        assert "<img src=x onerror='window.pwned = 1'> </table> \\boxed{3}" in shown
        assert page.evaluate("window.pwned") is None
        assert not page.get_by_text("Error displaying widget").count()
        browser.close()
