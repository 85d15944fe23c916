"""Every params file in the repository says something the lab accepts (a typo fails here, not on a GPU)."""

from pathlib import Path

import papermill
import pytest
import yaml
from rlvr.config import load_params
from rlvr.parameters import check_configs, check_parameters, layered
from rlvr.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {path.stem: path for path in (ROOT / "notebooks").glob("*.ipynb")}
TRAINING = [p for folder in ("paper", "toy") for p in sorted((ROOT / "params" / folder).glob("*.yaml"))
            if p.stem not in NOTEBOOKS]
NOTEBOOK_PARAMS = [p for p in sorted((ROOT / "params" / "paper").glob("*.yaml")) if p.stem in NOTEBOOKS]
SWEEPS = sorted((ROOT / "params" / "sweeps").rglob("*.yaml"))


@pytest.mark.parametrize("path", TRAINING, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_training_params_file_is_a_valid_config(path):
    load_params(path)


@pytest.mark.parametrize("path", NOTEBOOK_PARAMS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_notebook_params_file_sets_only_its_notebooks_parameters(path):
    declared = papermill.inspect_notebook(str(NOTEBOOKS[path.stem]))
    values = yaml.safe_load(path.read_text())
    check_parameters(declared, values, str(path), path.stem)
    check_configs(declared, layered(declared, [values]), str(path))


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: str(p.relative_to(ROOT / "params" / "sweeps")))
def test_each_sweep_file_loads_with_every_run_checked(path):
    assert load_sweep(path, root=ROOT).jobs()


def test_there_are_params_files_of_each_kind():
    assert len(TRAINING) >= 8 and len(NOTEBOOK_PARAMS) == len(NOTEBOOKS) and len(SWEEPS) >= 10
