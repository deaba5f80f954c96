"""conftest.py's strict settings are in force: a warning raised from sepsim code is an error."""

import pytest


def test_a_warning_raised_in_sepsim_is_an_error():
    code = compile("import warnings\nwarnings.warn('probe', UserWarning)\n", "<probe>", "exec")
    with pytest.raises(UserWarning, match="probe"):
        exec(code, {"__name__": "sepsim._probe"})  # warnings takes the module from the caller's __name__
