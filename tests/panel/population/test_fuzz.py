"""Whatever bytes arrive, reading an upload either works or says why in Swedish: never another exception."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panel.population.services import PopulationRejected, check_fit, read_upload, summarize

CSV_LIKE = st.lists(st.sampled_from(["region", "gender", "age", "population", "kvinna", "man", "0980", "16", "-3",
                                     "1e9", "", ";", ",", "\n", '"', "totalt", "2025M01", "\xe5", "år"]),
                    max_size=60).map(lambda parts: "".join(parts).encode("utf-8"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=2000), CSV_LIKE), period=st.sampled_from(["", "2025", "x"]),
       region=st.sampled_from(["", "0980", "zz"]))
def test_any_bytes_are_read_or_refused_with_a_message(app, data, period, region):
    with app.app_context():
        from panel.extensions import db

        try:
            table = read_upload(db.session, data, filename="fuzz.csv", period=period, region=region)
        except PopulationRejected as rejected:
            assert rejected.message
        else:
            assert summarize(table).total == table.total >= 0
            assert all(problem.message for problem in check_fit(db.session, table, municipality="Gotland"))
        db.session.rollback()
