import pytest

from classifiers.inference.stats import Share


def test_it_gives_the_wilson_interval():
    low, high = Share(k=747, n=800).interval()
    assert (round(low, 4), round(high, 4)) == (0.9144, 0.949)


def test_an_interval_near_a_hundred_percent_stays_inside_it():
    low, high = Share(k=150, n=150).interval()
    assert high == 1.0 and 0.97 < low < 0.98


def test_it_says_the_figure_with_its_interval_and_size():
    assert Share(k=747, n=800).describe() == "93.4% (91.4–94.9%, 800 photos)"
    assert Share.of(0.25, 40).describe("dogs") == "25.0% (14.2–40.2%, 40 dogs)"
    assert Share(k=0, n=0).describe() == "not measured"


@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (3, 7)])
def test_the_interval_holds_the_share(k, n):
    share = Share(k=k, n=n)
    low, high = share.interval()
    assert 0 <= low <= share.value <= high <= 1
