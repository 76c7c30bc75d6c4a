"""The planning hurdle and the terminal SoC value, on small cases solved by hand."""

from __future__ import annotations

import pytest

from gridstream.core.storage import HorizonForecast, Quantiles, plan_schedule
from gridstream.core.storage.objectives import ObjectiveWeights

from .test_planner_optimum import fleet  # 100 MWh / 100 MW, lossless, free, no floors


@pytest.mark.parametrize(("penalty", "cycles"), [(40.0, True), (60.0, False)])
def test_throughput_penalty_skips_cycles_whose_margin_is_smaller(
    penalty: float, cycles: bool
) -> None:
    # 100 -> 200 g/kWh at 1000 EUR/t: each MWh shifted is worth 100 EUR; the hurdle costs
    # 2 x penalty per MWh shifted (in and out): 80 < 100 cycles, 120 > 100 holds
    weights = ObjectiveWeights(
        co2_eur_per_t=1000.0, robustness=0.0, throughput_penalty_eur_per_mwh=penalty
    )
    fc = HorizonForecast(0, {"co2": Quantiles.exact([100.0, 200.0])})
    r = plan_schedule(fleet(), fc, weights, initial_soc_mwh=0.0)
    assert not r.fallback, r.reason
    assert r.discharge_mw.sum() == pytest.approx(100.0 if cycles else 0.0, abs=1e-6)
    expected = 25.0 * (100.0 - 2 * penalty) if cycles else 0.0
    assert -r.objective_value == pytest.approx(expected, abs=1e-6)


def test_terminal_value_keeps_energy_that_is_worth_more_later() -> None:
    # median of the forecast [200, 100, 160, 150] is 155 g/kWh: stored energy is worth
    # 155 EUR/MWh at the end. Without a terminal value the plan ends empty; with it, the
    # plan still trades the spreads (out at 200 and 160, in at 100 and 150) but ends at 50.
    fc = HorizonForecast(0, {"co2": Quantiles.exact([200.0, 100.0, 160.0, 150.0])})
    free = ObjectiveWeights(co2_eur_per_t=1000.0, robustness=0.0)
    valued = free.model_copy(update={"terminal_value_quantile": 0.5})
    plain = plan_schedule(fleet(initial_soc=0.5), fc, free, initial_soc_mwh=50.0)
    kept = plan_schedule(fleet(initial_soc=0.5), fc, valued, initial_soc_mwh=50.0)
    assert plain.soc_mwh[-1] == pytest.approx(0.0, abs=1e-6)
    assert kept.soc_mwh == pytest.approx([25.0, 50.0, 25.0, 50.0], abs=1e-6)


def test_terminal_value_is_discounted_by_discharge_losses() -> None:
    # flat 100 g/kWh: energy at the end is worth 100 x 0.5 = 50 EUR/MWh < 100 to charge it
    f = fleet().model_copy(update={"discharge_efficiency": 0.5})
    fc = HorizonForecast(0, {"co2": Quantiles.exact([100.0, 100.0])})
    w = ObjectiveWeights(co2_eur_per_t=1000.0, robustness=0.0, terminal_value_quantile=1.0)
    r = plan_schedule(f, fc, w, initial_soc_mwh=0.0)
    assert r.charge_mw.sum() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(("widening", "cycles"), [(0.0, False), (0.5, True)])
def test_spread_widening_moves_highs_toward_p90_and_lows_toward_p10(
    widening: float, cycles: bool
) -> None:
    # round trip 0.81: P50 100 -> 115 is not worth it (0.81 x 115 = 93 < 100). Widened by
    # half of the +-40 band: 80 -> 135, and 0.81 x 135 = 109 > 80 is.
    f = fleet().model_copy(update={"charge_efficiency": 0.9, "discharge_efficiency": 0.9})
    co2 = Quantiles.of([60.0, 75.0], [100.0, 115.0], [140.0, 155.0])
    w = ObjectiveWeights(co2_eur_per_t=1000.0, robustness=0.0, spread_widening=widening)
    r = plan_schedule(f, HorizonForecast(0, {"co2": co2}), w, initial_soc_mwh=0.0)
    assert not r.fallback, r.reason
    assert bool(r.charge_mw[0] > 0) is cycles
    assert bool(r.discharge_mw[1] > 0) is cycles
    assert r.charge_mw[1] == 0.0 and r.discharge_mw[0] == 0.0
