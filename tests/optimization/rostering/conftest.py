"""Rostering tests (pyproject's ``pythonpath = ["."]`` keeps tests/optimization from shadowing the package)."""
