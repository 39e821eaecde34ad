# Reference numbers: a synthetic panel (panel_data() in estimates_common.R) as
# a weights-only single-stage design: a multiple-choice question, missing
# answers, a tiny district.
#   Rscript tests/analysis/reference/estimates_panel_weights.R   (from the repository root)
source(file.path("tests", "analysis", "reference", "estimates_common.R"))
panel <- panel_data()
dw <- svydesign(ids = ~1, weights = ~base_weight, data = panel)
panel_case("panel_weights", dw, "svydesign(ids = ~1, weights = ~base_weight, data = panel_data())")
