"""The RegNet paper's quantised linear fit (section 3.3): exact on RegNets, an e_fit no worse than
the published parameters' own on the zoo's group-adjusted widths, and ordered across spaces as
the paper reports (AnyNetX_A fits worst, the RegNet space best)."""

import math

import numpy as np
import pytest

import spaces
from blocks.widths import regnet_widths
from nas.analysis.linearfit import block_widths, fit
from nas.zoo.regnet import REGNETX, REGNETY
from spaces import Context


@pytest.mark.parametrize("params", list(REGNETX.values()) + list(REGNETY.values()))
def test_a_regnets_own_widths_fit_exactly(params):
    d, w_0, w_a, w_m, _ = params
    widths, depths, _ = regnet_widths(w_0, w_a, w_m, d)
    got = fit(depths, widths)
    assert got.e_fit == 0.0
    assert regnet_widths(got.w_0, got.w_a, got.w_m, d)[:2] == (widths, depths)


def test_the_fit_is_no_worse_than_the_published_parameters_on_adjusted_widths():
    """regnetx_400mf's stages after pycls' group compatibility are 32, 64, 160, 384 wide (depths
    1, 2, 7, 12); its published w_0 24, w_a 24.48, w_m 2.54 predict 24, 64, 152, 392: e_fit
    (log(32/24) + 7 log(160/152) + 12 log(392/384)) / 22 = 0.04064."""
    published = (math.log(32 / 24) + 7 * math.log(160 / 152) + 12 * math.log(392 / 384)) / 22
    assert published == pytest.approx(0.040644, abs=1e-6)
    assert fit([1, 2, 7, 12], [32, 64, 160, 384]).e_fit <= published
    assert list(block_widths([1, 2], [8, 16])) == [8, 16, 16]


def test_spaces_fit_in_the_papers_order():
    ctx = Context((3, 32, 32), 10)
    median = {}
    for name in ("anynet_x_a", "anynet_x_e", "regnet_x"):
        samples = spaces.sample(spaces.get(name), 30, 0, ctx=ctx)
        median[name] = np.median(
            [fit([s.depth for s in x.spec.stages], [s.width for s in x.spec.stages]).e_fit for x in samples]
        )
    assert median["anynet_x_a"] > 2 * median["anynet_x_e"] > 0.2 > 0.01 > median["regnet_x"], median
