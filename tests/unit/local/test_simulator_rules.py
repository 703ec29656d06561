"""The simulator's delivery-parameter checks (reference sections 1 and 3) and its peak-rate windows."""

from __future__ import annotations

import pytest

from local.simulator.delivery_rules import check_delivery
from local.simulator.rate import PeakWindow

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"validity": "1"},
        {"validity": "1440"},
        {"queue": "1"},
        {"queue": "3"},
        {"deliv_time": "0"},
        {"deliv_time": "10080"},
        {"scheduled_time": str(int(NOW) + 3600)},
        {"scheduled_time": "2027-01-15T08:00:00Z"},  # NOW is 2027-01-15T08:00:00Z
        {"scheduled_time": str(int(NOW) - 240)},  # within the 5 minutes of slack
    ],
)
def test_good_delivery_parameters_pass(params: dict[str, str]) -> None:
    assert check_delivery(params, NOW) is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"validity": "0"}, "101"),
        ({"validity": "1441"}, "101"),
        ({"validity": "ten"}, "101"),
        ({"queue": "0"}, "101"),
        ({"queue": "4"}, "101"),
        ({"deliv_time": "10081"}, "120"),
        ({"deliv_time": "-5"}, "120"),
        ({"scheduled_time": str(int(NOW) - 600)}, "120"),
        ({"scheduled_time": str(int(NOW) + 8 * 86400)}, "120"),
        ({"scheduled_time": "2027-01-15 08:00"}, "120"),
        ({"scheduled_time": "2027-02-30T08:00:00Z"}, "120"),
    ],
)
def test_bad_delivery_parameters_get_clickatells_error(params: dict[str, str], code: str) -> None:
    record = check_delivery(params, NOW)
    assert record is not None and record.key == "ERR" and record.render().startswith(f"ERR: {code},")


def test_peak_window_slides_instead_of_counting_clock_seconds() -> None:
    window = PeakWindow(1.0)
    window.add(0.6, 100)
    window.add(1.4, 100)  # 0.6 .. 1.4 fits in one second, though in two clock seconds
    assert window.peak == 200
    window.add(2.5, 50)  # the first two have left the window
    assert window.peak == 200
    window.add(2.9, 300)
    assert window.peak == 350


def test_peak_window_forgets_exactly_at_its_length() -> None:
    window = PeakWindow(10.0)
    window.add(0.0, 600)
    window.add(10.0, 600)  # [0, 10) and [10, 20): never in the same window
    assert window.peak == 600
