"""Virtual patients: population model, immune/cytokine dynamics, therapies, adsorbers, outcomes."""
