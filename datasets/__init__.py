"""HospOps data layer: the DuckDB workspace store, EHR importers, the demo hospital and derived metrics.

Plain Python: nothing here imports Qt.
"""
from datasets.errors import Cancelled, HospOpsError

__all__ = ["Cancelled", "HospOpsError"]
