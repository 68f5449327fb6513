"""CP-SAT models for bed allocation and staff rostering (plain Python; no Qt)."""
