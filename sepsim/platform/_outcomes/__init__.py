"""Potential-outcome tables: every patient's outcome under every arm, and the parametric scenarios."""
