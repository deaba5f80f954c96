"""The trial engine: the per-trial scan, the factorial (domains) engine, batching into a results Dataset."""
