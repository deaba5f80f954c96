"""The results contract as code: decision and outcome codes, and the per-trial results schema."""
