"""Allocation rules: how each randomisation window shares patients among the active arms."""
