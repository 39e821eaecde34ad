"""The uploaded-file reader refuses what it cannot read with ImportRejected, never anything else."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panel.districts.csvfile import ImportRejected, read_table
from panel.recruitment.services import REQUIRED_COLUMNS, SAMPLE_COLUMNS

HEADER = "person_ref;gender;birth_year;district;name;address;postcode;city\n".encode()
cells = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
rows = st.lists(st.lists(cells, min_size=0, max_size=10).map(lambda r: ";".join(r)), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300), rows.map(lambda r: HEADER + "\n".join(r).encode("utf-8"))))
def test_any_bytes_give_a_table_or_a_list_of_problems(app, data):
    with app.test_request_context():
        try:
            table = read_table(data, columns=SAMPLE_COLUMNS, required=REQUIRED_COLUMNS, example="x")
        except ImportRejected as rejected:
            assert rejected.problems and all(str(p) for p in rejected.problems)
        else:
            assert table.rows and all(all(values[c] for c in REQUIRED_COLUMNS) for _, values in table.rows)
