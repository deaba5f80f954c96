"""Trial designs (the validated config) and the static plan the engine compiles from them."""
