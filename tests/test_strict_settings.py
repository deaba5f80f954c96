"""conftest.py's strict settings are in force: implicit rank promotion and warnings from sepsim code are errors."""

import jax.numpy as jnp
import pytest


def test_rank_promotion_is_an_error():
    with pytest.raises(ValueError, match="rank"):
        jnp.ones(3) + jnp.ones((2, 3))


def test_a_warning_raised_in_sepsim_is_an_error():
    code = compile("import warnings\nwarnings.warn('probe', UserWarning)\n", "<probe>", "exec")
    with pytest.raises(UserWarning, match="probe"):
        exec(code, {"__name__": "sepsim._probe"})  # warnings takes the module from the caller's __name__
