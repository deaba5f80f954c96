"""Operating characteristics of simulated trials, and threshold calibration."""
