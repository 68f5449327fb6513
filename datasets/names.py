"""Names the command line needs before anything heavy is imported (argparse choices); no DuckDB here.

``tests/datasets/test_store.py`` checks they match the schema and the importers.
"""
from __future__ import annotations

FORMATS = ("csv", "mimic", "synthea", "omop", "fhir")
TABLES = ("units", "beds", "patients", "ed_visits", "stays", "movements", "supply_items", "supply_usage", "staff",
          "shift_types", "requests", "supply_stock")
