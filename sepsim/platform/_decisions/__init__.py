"""Decisions at a look: superiority, inferiority, futility, equivalence; frequentist boundaries."""
