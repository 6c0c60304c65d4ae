"""Answers to flag: Alice's, answered "dog (96%)" by cats vs dogs."""

import pytest
from django.test import Client

from classifiers.predictions import services as prediction_services
from tests.classifiers.answers import answered


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


@pytest.fixture
def answer(demo, alice):
    return answered(demo, owner=alice)


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def shared_url(prediction, *, show_photo: bool = False) -> str:
    prediction_services.prediction_share(prediction=prediction, show_photo=show_photo)
    return prediction.get_shared_url()


def visitor(address: str = "198.51.100.7") -> Client:
    """A browser with no account, from its own address."""
    return Client(REMOTE_ADDR=address)
