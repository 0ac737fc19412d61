"""Marks the notebooks slow, so that ``pytest -m "not slow"`` is the quick unit run (see README, "Run the tests").

Here at the root, not in ``tests/``, so the mark applies however the notebooks are named on the command line.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":  # nbval's cells: each notebook runs for minutes
            item.add_marker(pytest.mark.slow)
