"""Test-wide JAX settings: float64 on CPU, strict dtype promotion (STYLE.md, point 8) and rank promotion as an error
(broadcasting must be explicit); every warning raised from sepsim's own code fails the test that triggers it."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller, before pytest-xdist starts its workers
        # arviz 0.23 writes a once-a-day stamp file on import; workers importing it at once on a fresh machine race
        # on its rename (FileNotFoundError at collection). Importing it here first leaves them nothing to write.
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import arviz  # noqa: F401
    # module regex: warnings whose warn() call sits in sepsim (or a subpackage) become errors
    config.addinivalue_line("filterwarnings", "error::Warning:sepsim")
