import pandas as pd

from analysis.targets import read_population
from panel.demo_seed import SCB_EXPORT
from panel.population.services import latest_population, load_population, save_population


def test_saved_population_loads_back_identically(session):
    table = read_population(SCB_EXPORT)
    dataset = save_population(session, table, name="Gotland 2020")
    session.commit()
    session.expire_all()
    again = load_population(latest_population(session))
    assert again.total == table.total == 60124
    assert str(again.source) == str(table.source)
    pd.testing.assert_frame_equal(again.data, table.data.reset_index(drop=True), check_dtype=False)
    assert dataset.reference_date == "2020-12-31"


def test_earlier_uploads_are_kept(session):
    table = read_population(SCB_EXPORT)
    first = save_population(session, table, name="först")
    second = save_population(session, table, name="sedan")
    session.commit()
    assert latest_population(session).id == second.id != first.id
