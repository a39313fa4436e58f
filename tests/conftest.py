import pytest

from spgd.priors import smooth_mixture


@pytest.fixture(scope="session")
def gmm():
    return smooth_mixture()
