"""Forecasting tests. (pyproject's ``pythonpath = ["."]`` keeps tests/forecasting from shadowing the package;
tests/conftest.py sets one BLAS thread before numpy loads.)"""
