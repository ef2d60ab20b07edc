"""The word lists and reference data the demo seed draws from. Plain constants, no logic."""
