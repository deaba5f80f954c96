"""Trial engine: designs, allocation rules, analyses, stopping rules, operating characteristics."""
