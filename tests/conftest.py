import pytest

from spgd.priors import smooth_mixture


@pytest.fixture(scope="session")
def gmm():
    return smooth_mixture()


@pytest.fixture
def server():
    """A local HTTP server (127.0.0.1) with Range support; stopped after the test."""
    from local_http import Server

    running = Server()
    yield running
    running.stop()
