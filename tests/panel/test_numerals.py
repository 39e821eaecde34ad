"""panel.numerals: digits of any script as 0-9, and whole numbers as residents type them."""

from panel.numerals import ascii_digits, parse_whole_number


def test_ascii_digits():
    assert ascii_digits("١٩٩٠") == "1990"  # Arabic-Indic
    assert ascii_digits("۱۳۶۹") == "1369"  # Extended Arabic-Indic (Persian, Urdu)
    assert ascii_digits("１２") == "12"  # full width
    assert ascii_digits("4NCRDMP٩") == "4NCRDMP9"
    assert ascii_digits("²½ abc 12") == "²½ abc 12"  # not decimal digits: unchanged


def test_parse_whole_number_reads_any_script():
    assert parse_whole_number("١٢") == parse_whole_number("１２") == 12
    assert parse_whole_number("−٣") == -3
    assert parse_whole_number("١ ٠٠٠") == 1000
    assert parse_whole_number("1_000") is None and parse_whole_number("²") is None
