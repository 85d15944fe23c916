"""The TRL and transformers methods the lab's trainers override still exist with the signatures the
overrides were written against, in the pinned TRL: an upgrade that renames or reshapes one fails here,
not in a run (where a renamed method would simply never be called)."""

import inspect

import pytest
from rlvr.registry import ALGORITHMS
from rlvr.train import TRAINERS
from rlvr.trainer import signature_text


def lab_classes():
    """Every class of the lab in the trainers' hierarchies, found from the trainer registry."""
    found = {}
    for trainer in TRAINERS.values():
        for cls in trainer.__mro__:
            if cls.__module__.startswith("rlvr."):
                found[cls.__qualname__] = cls
    return found


def upstream_definition(cls, name):
    """The class of TRL or transformers whose method ``name`` a lab class's method overrides, or None."""
    return next((base for base in cls.__mro__ if name in vars(base) and not base.__module__.startswith("rlvr.")),
                None)


def methods(cls):
    """``(name, function)`` of each method ``cls`` itself defines, dunder methods aside (a constructor
    passes TRL's arguments through as they come)."""
    return [(name, member) for name, member in vars(cls).items()
            if inspect.isfunction(member) and not (name.startswith("__") and name.endswith("__"))]


CASES = [pytest.param(cls, name, method, id=f"{cls.__name__}.{name}")
         for cls in lab_classes().values() for name, method in methods(cls)]


def test_the_trainer_registry_covers_every_algorithm():
    assert list(TRAINERS) == list(ALGORITHMS)
    assert {"RLVRTrainer", "PPOTrainer"} <= set(lab_classes())


@pytest.mark.parametrize("cls, name, method", CASES)
def test_each_override_has_the_signature_it_was_written_against(cls, name, method):
    base = upstream_definition(cls, name)
    expected = getattr(method, "trl_signature", None)
    if base is None:
        assert expected is None, (f"{cls.__name__}.{name} overrides a TRL method that the installed TRL no longer "
                                  "has: it would never be called")
        return
    assert expected is not None, (f"{cls.__name__}.{name} overrides {base.__module__}.{base.__name__}.{name}: "
                                  "mark it @overrides() so that its signature is checked")
    actual = signature_text(vars(base)[name])
    assert actual == expected, (f"{base.__module__}.{base.__name__}.{name} is now {actual}; "
                                f"{cls.__name__}.{name} was written against {expected}")


def test_the_overrides_are_found():
    found = {f"{cls.__name__}.{name}" for cls, name, method in (case.values for case in CASES)
             if hasattr(method, "trl_signature")}
    # A sample, to show that introspection reaches both trainers; the checks above cover every one.
    assert {"RLVRTrainer._generate_single_turn", "RLVRTrainer._calculate_rewards", "RLVRTrainer._save",
            "PPOTrainer.compute_loss", "PPOTrainer._save_checkpoint"} <= found
