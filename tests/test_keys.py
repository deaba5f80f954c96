import jax
import numpy as np
import pytest

from sepsim._keys import index_keys, item_keys, stage_key


def test_index_keys_do_not_depend_on_chunking():
    k = stage_key(7, "cohort")
    whole = jax.random.key_data(index_keys(k, 0, 100))
    chunks = [jax.random.key_data(index_keys(k, s, 25)) for s in range(0, 100, 25)]
    np.testing.assert_array_equal(whole, np.concatenate(chunks))


def test_stages_and_seeds_differ():
    a = jax.random.key_data(stage_key(1, "cohort"))
    assert not np.array_equal(a, jax.random.key_data(stage_key(1, "trials")))
    assert not np.array_equal(a, jax.random.key_data(stage_key(2, "cohort")))
    np.testing.assert_array_equal(a, jax.random.key_data(stage_key(1, "cohort")))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed_rejected(bad):
    with pytest.raises(ValueError, match="seed"):
        stage_key(bad, "cohort")


def test_item_keys_follow_the_index_not_the_position():
    """A patient's key is fold_in(key, patient) whatever subset or order it is asked in, and matches index_keys."""
    k = stage_key(3, "outcomes")
    full = np.asarray(jax.random.key_data(index_keys(k, 0, 10)))
    picked = jax.random.key_data(item_keys(k, np.array([7, 2, 9])))
    np.testing.assert_array_equal(picked, full[[7, 2, 9]])
