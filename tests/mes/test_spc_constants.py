"""Control chart constants computed numerically match the published table."""

from __future__ import annotations

import math

import pytest

from andon.errors import InvalidRequest
from andon.mes.spc_constants import c4, constants, d2, d3

# Montgomery, Introduction to Statistical Quality Control, Appendix VI:
# n: (A2, A3, c4, B3, B4, d2, d3, D3, D4)
TABLE = {
    2: (1.880, 2.659, 0.7979, 0.0, 3.267, 1.128, 0.853, 0.0, 3.267),
    3: (1.023, 1.954, 0.8862, 0.0, 2.568, 1.693, 0.888, 0.0, 2.574),
    4: (0.729, 1.628, 0.9213, 0.0, 2.266, 2.059, 0.880, 0.0, 2.282),
    5: (0.577, 1.427, 0.9400, 0.0, 2.089, 2.326, 0.864, 0.0, 2.114),
    6: (0.483, 1.287, 0.9515, 0.030, 1.970, 2.534, 0.848, 0.0, 2.004),
    7: (0.419, 1.182, 0.9594, 0.118, 1.882, 2.704, 0.833, 0.076, 1.924),
    8: (0.373, 1.099, 0.9650, 0.185, 1.815, 2.847, 0.820, 0.136, 1.864),
    9: (0.337, 1.032, 0.9693, 0.239, 1.761, 2.970, 0.808, 0.184, 1.816),
    10: (0.308, 0.975, 0.9727, 0.284, 1.716, 3.078, 0.797, 0.223, 1.777),
    15: (0.223, 0.789, 0.9823, 0.428, 1.572, 3.472, 0.756, 0.347, 1.653),
    20: (0.180, 0.680, 0.9869, 0.510, 1.490, 3.735, 0.729, 0.415, 1.585),
    25: (0.153, 0.606, 0.9896, 0.565, 1.435, 3.931, 0.708, 0.459, 1.541),
}
D2 = [1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336]
D2 += [3.407, 3.472, 3.532, 3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931]


@pytest.mark.parametrize("n", sorted(TABLE))
def test_every_factor_matches_the_table(n: int) -> None:
    k = constants(n)
    computed = (k.a2, k.a3, k.c4, k.b3, k.b4, k.d2, k.d3, k.d3_factor, k.d4)
    for name, got, published in zip(
        ("A2", "A3", "c4", "B3", "B4", "d2", "d3", "D3", "D4"), computed, TABLE[n], strict=True
    ):
        # The table rounds to 3 (c4: 4) decimals, some entries from already rounded factors.
        tolerance = 6e-5 if name == "c4" else 1.1e-3
        assert got == pytest.approx(published, abs=tolerance), f"{name}({n})"


def test_d2_for_every_size_of_the_table() -> None:
    assert [round(d2(n), 3) for n in range(2, 26)] == D2


def test_closed_forms() -> None:
    # E[range] of 2 and 3 normals: 2/sqrt(pi) and 3/sqrt(pi); sd of the range of 2: sqrt(2)
    # times the sd of |Z|, i.e. sqrt(2 (1 - 2/pi)).
    assert d2(2) == pytest.approx(2 / math.sqrt(math.pi), abs=1e-9)
    assert d2(3) == pytest.approx(3 / math.sqrt(math.pi), abs=1e-9)
    assert d3(2) == pytest.approx(math.sqrt(2 * (1 - 2 / math.pi)), abs=1e-9)
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), abs=1e-12)


def test_large_subgroups_are_computed_too() -> None:
    assert 0 < d3(60) < d3(25) < d3(10)
    assert d2(60) > d2(25)
    assert c4(100) == pytest.approx(1 - 1 / (4 * 99), abs=1e-4)  # c4 ~ 1 - 1/(4(n-1))


def test_subgroups_of_one_have_no_constants() -> None:
    with pytest.raises(InvalidRequest):
        d2(1)
