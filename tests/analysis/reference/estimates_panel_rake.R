# Reference numbers: the synthetic panel raked to gender, age band and
# district population margins (rake() with maxit = 50, epsilon = 1e-10 so that
# it converges), the design a municipality's report would use.
#   Rscript tests/analysis/reference/estimates_panel_rake.R   (from the repository root)
source(file.path("tests", "analysis", "reference", "estimates_common.R"))
panel <- panel_data()
dw <- svydesign(ids = ~1, weights = ~base_weight, data = panel)
pop <- panel_population()
drk <- rake(dw, list(~gender, ~age_band, ~district), list(pop$gender, pop$age_band, pop$district),
            control = list(maxit = 50, epsilon = 1e-10))
panel_case("panel_rake", drk, "rake(panel weights-only design, list(~gender, ~age_band, ~district), population margins)")
