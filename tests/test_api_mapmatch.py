"""greenwave.mapmatch: the grid index finds the road the vehicle is on, in its direction."""

import numpy as np
import pytest

from greenwave.mapmatch import MATCHED, NO_ROAD, WRONG_DIRECTION, MapMatcher
from greenwave.network import World
from greenwave.scenario import load_scenario


@pytest.fixture(scope="module")
def city(root):
    return World.build(load_scenario(root / "scenarios" / "zibo_city.toml")).network


def test_locate_equals_point_at(city):
    mm = MapMatcher(city)
    rng = np.random.default_rng(0)
    link = rng.integers(0, city.n_links, 200)
    off = rng.uniform(0, 1.2, 200) * city.link_length_m[link]  # some beyond the end: clipped
    lon, lat, brg = mm.locate(link, off)
    for i in range(200):
        p = city.point_at(int(link[i]), float(off[i]))
        assert (lon[i], lat[i], brg[i]) == pytest.approx(p, abs=1e-9)


def test_every_link_matched_in_its_direction_never_the_opposite(city):
    mm = MapMatcher(city)
    rng = np.random.default_rng(1)
    link = np.arange(city.n_links)
    off = rng.uniform(0.1, 0.9, city.n_links) * city.link_length_m
    lon, lat, brg = mm.locate(link, off)
    noise = rng.normal(0, 4, (city.n_links, 2))
    lon2, lat2 = city.projection.offset_lonlat(lon, lat, noise[:, 0], noise[:, 1])
    heading = (brg + rng.normal(0, 15, city.n_links)) % 360
    m = mm.match(lon2, lat2, heading)
    assert np.all(m.code == MATCHED)
    assert np.all(m.link == link)
    np.testing.assert_allclose(m.offset_m, off, atol=25.0)  # 4 m noise per axis
    assert np.all(m.lateral_m <= mm.radius_m)
    back = mm.match(lon, lat, (brg + 180) % 360)
    assert not np.any(back.link == link)  # the opposite direction of the same street
    cross = mm.match(lon, lat, (brg + 90) % 360)
    mid = (off > 60) & (off < city.link_length_m - 60)  # away from crossings
    assert np.all(cross.code[mid] == WRONG_DIRECTION)


def test_off_network_and_batch_equals_single(city):
    mm = MapMatcher(city, radius_m=30.0)
    lon0, lat0 = city.intersection_lonlat.min(axis=0)
    lon, lat = city.projection.offset_lonlat(lon0, lat0, -2000.0, -2000.0)
    m = mm.match([lon], [lat], [45.0])
    assert m.code[0] == NO_ROAD and m.link[0] == -1 and np.isnan(m.offset_m[0])
    rng = np.random.default_rng(2)
    link = rng.integers(0, city.n_links, 50)
    lo, la, b = mm.locate(link, rng.uniform(0, 1, 50) * city.link_length_m[link])
    batch = mm.match(lo, la, b)
    for i in range(50):
        one = mm.match(lo[i : i + 1], la[i : i + 1], b[i : i + 1])
        assert one.link[0] == batch.link[i] and one.offset_m[0] == batch.offset_m[i]


def test_bad_parameters(city):
    with pytest.raises(ValueError):
        MapMatcher(city, radius_m=0.0)
    with pytest.raises(ValueError):
        MapMatcher(city, heading_tol_deg=180.0)
