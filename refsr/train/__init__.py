"""`refsr train NET ...`: dispatch to the trainer of one network, or to the chain of all of them."""
from __future__ import annotations

import importlib

TRAINERS = ("ccnet", "srresnet", "ssnet", "chain")


def main(net: str, argv: list[str]) -> int:
    """Run `refsr.train.<net>.main(argv)` (`chain`: refsr.train.chain)."""
    if net not in TRAINERS:
        raise ValueError(f"unknown network {net!r}; choose from {', '.join(TRAINERS)}")
    return importlib.import_module(f"refsr.train.{net}").main(argv)
