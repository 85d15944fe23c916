"""The set-up promises: one pinned dependency set in pyproject and environment.yml,
two README commands, CI running the README's test command."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_pins_the_same_set_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    project = pyproject()["project"]
    expected = project["dependencies"] + project["optional-dependencies"]["dev"]
    pinned = [p for p in pip if not p.startswith("-e")]
    assert sorted(pinned) == sorted(expected)
    assert any(p.startswith("-e") and ".[dev]" in p for p in pip), "conda env installs the package itself"


def test_core_dependencies_are_pinned_and_gpu_packages_stay_in_the_extra():
    project = pyproject()["project"]
    for req in project["dependencies"]:
        assert "==" in req, f"{req} is not pinned"
    names = {re.split("[=<>]", r)[0].lower() for r in project["dependencies"]}
    assert {"torch", "transformers", "trl", "datasets", "math-verify"} <= names
    assert not names & {"vllm", "unsloth", "torchvision"}
    gpu = {re.split("[=<>]", r)[0] for r in project["optional-dependencies"]["gpu"]}
    assert gpu == {"vllm", "unsloth"}
    # DeepSpeed, which the two DeepSpeed launch configs need, pinned in its own extra, never in the core.
    assert project["optional-dependencies"]["deepspeed"] == ["deepspeed==0.19.8"]
    assert "deepspeed" not in names


def test_the_installed_versions_are_the_pinned_ones():
    from importlib.metadata import version

    for req in pyproject()["project"]["dependencies"]:
        name, pinned = req.split("==")
        assert version(name).split("+")[0] == pinned, name


def readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_readme_opens_with_exactly_two_commands():
    assert readme_commands() == ["make quickstart", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci


def test_rlvr_is_importable_from_lib():
    import rlvr

    assert rlvr.__file__.startswith(str(ROOT / "lib" / "rlvr"))
