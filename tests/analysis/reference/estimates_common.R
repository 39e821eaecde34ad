# Shared helpers for the estimates_<case>.R reference scripts.
#
# Each case script builds R `survey` designs, computes reference numbers with
# svymean / svytotal / svyciprop / svyby / svychisq / svycontrast / svyttest and
# writes tests/analysis/reference/estimates_<case>.json with the data, the
# design (weights and what the Python test needs to rebuild the calibration
# residuals) and one record per reference number. Numbers are written with 17
# significant digits (jsonlite alone stops at 15).
#
# Run from the repository root:  Rscript tests/analysis/reference/estimates_<case>.R
# Written against R 4 and survey 4.1.1.

suppressMessages(library(survey))
library(jsonlite)
options(warn = 1)

# ---------------------------------------------------------------- JSON output

num17 <- function(x, vector = FALSE) {
  s <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  if (length(x) == 1 && !vector) structure(s, class = "json")
  else structure(paste0("[", paste(s, collapse = ","), "]"), class = "json")
}

as_json_tree <- function(x) {
  if (inherits(x, "json")) return(x)
  if (is.data.frame(x)) {
    out <- lapply(x, function(col) {
      if (is.factor(col)) col <- as.character(col)
      if (is.numeric(col)) num17(as.numeric(col), vector = TRUE) else col
    })
    return(out)
  }
  if (is.list(x)) return(lapply(x, as_json_tree))
  if (is.factor(x)) return(as.character(x))
  if (is.numeric(x)) return(num17(as.numeric(x), vector = !is.null(attr(x, "vector"))))
  x
}

vec <- function(x) { x <- as.numeric(x); attr(x, "vector") <- TRUE; x }

write_case <- function(case, obj) {
  path <- file.path("tests", "analysis", "reference", paste0("estimates_", case, ".json"))
  json <- toJSON(as_json_tree(obj), json_verbatim = TRUE, auto_unbox = TRUE,
                 null = "null", na = "null", pretty = FALSE)
  writeLines(json, path)
  message("wrote ", path)
}

# ---------------------------------------------------------------- the design, for Python

# What the Python test needs to reproduce svyrecvar's residuals: for each entry
# of design$postStrata, its kind and arrays.
design_description <- function(design) {
  steps <- list()
  for (ps in design$postStrata) {
    if (inherits(ps, "greg_calibration")) {
      steps <- c(steps, list(list(
        kind = "calibrate",
        qr_matrix = lapply(seq_len(ncol(qr.X(ps$qr))), function(j) vec(qr.X(ps$qr)[, j])),
        w = vec(ps$w))))
    } else if (inherits(ps, "raking")) {
      margins <- lapply(ps, function(m) list(index = vec(as.integer(m)), weights = vec(attr(m, "weights"))))
      steps <- c(steps, list(list(kind = "rake", margins = margins)))
    } else {
      oldw <- attr(ps, "oldweights")
      steps <- c(steps, list(list(kind = "poststratify", index = vec(as.integer(ps)),
                                  weights = vec(attr(ps, "weights")), oldweights = vec(oldw))))
    }
  }
  list(weights = vec(weights(design)), steps = steps)
}

# ---------------------------------------------------------------- domains

# The whole design, then design[level, ] for every level of every `by`
# variable: exactly what svyby does for each group.
domains <- function(design, by) {
  out <- list(list(var = NULL, value = NULL, d = design))
  for (v in by) {
    x <- as.character(design$variables[[v]])
    for (lv in sort(unique(x[!is.na(x)]))) {
      out <- c(out, list(list(var = v, value = lv, d = design[!is.na(x) & x == lv, ])))
    }
  }
  out
}

dom_fields <- function(dd) {
  list(domain_variable = if (is.null(dd$var)) "(all)" else dd$var,
       domain_value = if (is.null(dd$var)) "(all)" else dd$value)
}

fml <- function(...) as.formula(paste0("~", paste0(..., collapse = "")))

# ---------------------------------------------------------------- records

ciprop <- function(f, d, method) {
  r <- suppressWarnings(svyciprop(f, d, method = method, na.rm = TRUE))
  as.numeric(attr(r, "ci"))
}

# A domain where nobody answered: R cannot estimate (NaN, or an error for a
# calibrated design); the Python side must flag it.
no_answers <- function(dd, var) {
  sum(!is.na(dd$d$variables[[var]]) & weights(dd$d) != 0) == 0
}

rec_mean <- function(dd, var, binary = FALSE) {
  f <- fml(var)
  if (no_answers(dd, var))
    return(c(list(stat = "mean", variable = var), dom_fields(dd), list(no_answers = TRUE)))
  m <- suppressWarnings(svymean(f, dd$d, na.rm = TRUE, deff = TRUE))
  mr <- svymean(f, dd$d, na.rm = TRUE, deff = "replace")
  ci <- confint(m)
  r <- c(list(stat = "mean", variable = var), dom_fields(dd), list(
    estimate = coef(m)[[1]], se = SE(m)[[1]], deff = unname(deff(m))[1],
    deff_replace = unname(deff(mr))[1], wald_low = ci[1, 1], wald_high = ci[1, 2],
    df = degf(dd$d)))
  p <- coef(m)[[1]]
  if (binary && isTRUE(p > 0 && p < 1)) {
    lg <- ciprop(fml(var), dd$d, "logit")
    bt <- ciprop(fml(var), dd$d, "beta")
    r <- c(r, list(logit_low = lg[1], logit_high = lg[2], beta_low = bt[1], beta_high = bt[2]))
  }
  r
}

rec_total <- function(dd, var) {
  f <- fml(var)
  if (no_answers(dd, var))
    return(c(list(stat = "total", variable = var), dom_fields(dd), list(no_answers = TRUE)))
  m <- suppressWarnings(svytotal(f, dd$d, na.rm = TRUE, deff = TRUE))
  mr <- svytotal(f, dd$d, na.rm = TRUE, deff = "replace")
  c(list(stat = "total", variable = var), dom_fields(dd), list(
    estimate = coef(m)[[1]], se = SE(m)[[1]], deff = unname(deff(m))[1],
    deff_replace = unname(deff(mr))[1]))
}

rec_props <- function(dd, var) {
  f <- fml(var)
  levs <- levels(factor(dd$d$variables[[var]]))
  if (no_answers(dd, var))
    return(lapply(levs, function(l) c(list(stat = "proportion", variable = var, level = l),
                                      dom_fields(dd), list(no_answers = TRUE))))
  m <- suppressWarnings(svymean(f, dd$d, na.rm = TRUE, deff = TRUE))
  mr <- svymean(f, dd$d, na.rm = TRUE, deff = "replace")
  lapply(seq_along(levs), function(i) {
    p <- coef(m)[[i]]
    r <- c(list(stat = "proportion", variable = var, level = levs[i]), dom_fields(dd), list(
      estimate = p, se = SE(m)[[i]], deff = unname(deff(m))[i], deff_replace = unname(deff(mr))[i],
      df = degf(dd$d)))
    if (p > 0 && p < 1) {
      pf <- fml("I(", var, " == '", levs[i], "')")
      lg <- ciprop(pf, dd$d, "logit")
      bt <- ciprop(pf, dd$d, "beta")
      r <- c(r, list(logit_low = lg[1], logit_high = lg[2], beta_low = bt[1], beta_high = bt[2]))
    }
    r
  })
}

rec_chisq <- function(design, rows, cols) {
  f <- fml(rows, "+", cols)
  a <- svychisq(f, design, statistic = "F")
  b <- svychisq(f, design, statistic = "Chisq")
  list(
    list(stat = "chisq", rows = rows, columns = cols, statistic_type = "F",
         statistic = unname(a$statistic), ndf = unname(a$parameter[1]), ddf = unname(a$parameter[2]),
         p_value = a$p.value),
    list(stat = "chisq", rows = rows, columns = cols, statistic_type = "Chisq",
         statistic = unname(b$statistic), ndf = unname(b$parameter[1]), p_value = b$p.value))
}

# The influence functions of the mean of yy__ in the domain `idx`, one row per
# row of the full design (svymean drops the unanswered rows of an uncalibrated
# design, and keeps them with zero influence in a calibrated one).
domain_influence <- function(design, idx) {
  m <- svymean(~yy__, design[idx, ], na.rm = TRUE, influence = TRUE)
  inf <- attr(m, "influence")
  n <- nrow(design$variables)
  if (NROW(inf) == n) return(as.matrix(inf))
  out <- matrix(0, n, 1)
  kept <- which(idx)[!is.na(design$variables$yy__[idx])]
  out[kept, ] <- inf
  out
}

# Difference of domain means (or shares of `category`): svyby(covmat = TRUE) +
# svycontrast for the estimate and SE, svyttest on the two domains for the test.
# survey 4.1.1's svyby(covmat = TRUE) stops with "number of items to replace"
# for calibrated designs and for na.rm = TRUE with missing values; then the
# same covariance is computed the way svyby means to: the joint influence
# functions through svyrecvar.
rec_diff <- function(design, var, by, first, second, category = NULL) {
  yv <- design$variables[[var]]
  yy <- if (is.null(category)) as.numeric(yv) else as.numeric(as.character(yv) == category)
  grp <- as.numeric(as.character(design$variables[[by]]) == first)
  design <- update(design, yy__ = yy, grp__ = grp)
  bv <- as.character(design$variables[[by]])
  ia <- !is.na(bv) & bv == first
  ib <- !is.na(bv) & bv == second
  ma <- svymean(~yy__, design[ia, ], na.rm = TRUE)
  mb <- svymean(~yy__, design[ib, ], na.rm = TRUE)
  inf <- cbind(domain_influence(design, ia), domain_influence(design, ib))
  V <- svyrecvar(inf, design$cluster, design$strata, design$fpc, postStrata = design$postStrata)
  se_manual <- sqrt(V[1, 1] + V[2, 2] - 2 * V[1, 2])
  a <- tryCatch(svyby(~yy__, fml(by), design, svymean, covmat = TRUE, na.rm = TRUE),
                error = function(e) NULL)
  se_svyby <- NULL
  if (!is.null(a)) {
    ctr <- setNames(rep(0, nrow(a)), rownames(a))
    ctr[first] <- 1
    ctr[second] <- -1
    con <- svycontrast(a, ctr)
    stopifnot(isTRUE(all.equal(coef(con)[[1]], coef(ma)[[1]] - coef(mb)[[1]], tolerance = 1e-12)))
    stopifnot(isTRUE(all.equal(SE(con)[[1]], se_manual, tolerance = 1e-10)))
    se_svyby <- SE(con)[[1]]
  }
  sub <- design[ia | ib, ]
  tt <- svyttest(yy__ ~ grp__, sub)
  list(stat = "difference", variable = var, category = category, by = by,
       first = first, second = second,
       estimate_first = coef(ma)[[1]], estimate_second = coef(mb)[[1]],
       difference = coef(ma)[[1]] - coef(mb)[[1]], se = se_manual, se_svyby = se_svyby,
       t_difference = unname(tt$estimate), se_ttest = unname(tt$estimate / tt$statistic),
       statistic = unname(tt$statistic), df = unname(tt$parameter), p_value = tt$p.value,
       ci_low = tt$conf.int[1], ci_high = tt$conf.int[2])
}

# All records for one design.
records_for <- function(design, by = character(), means = character(), binaries = character(),
                        totals = character(), factors = character()) {
  out <- list()
  for (dd in domains(design, by)) {
    for (v in means) out <- c(out, list(rec_mean(dd, v)))
    for (v in binaries) out <- c(out, list(rec_mean(dd, v, binary = TRUE)))
    for (v in totals) out <- c(out, list(rec_total(dd, v)))
    for (v in factors) out <- c(out, rec_props(dd, v))
  }
  out
}

# svyby must agree with the design[level, ] domains used above.
check_svyby <- function(design, var, by) {
  a <- svyby(fml(var), fml(by), design, svymean, na.rm = TRUE, deff = TRUE)
  for (dd in domains(design, by)[-1]) {
    m <- svymean(fml(var), dd$d, na.rm = TRUE)
    stopifnot(isTRUE(all.equal(coef(m)[[1]], a[dd$value, 2], tolerance = 1e-12)))
    stopifnot(isTRUE(all.equal(SE(m)[[1]], a[dd$value, 3], tolerance = 1e-12)))
  }
  invisible(TRUE)
}

# ---------------------------------------------------------------- the api data

# The columns of R's api data that the api cases use, with derived 0/1
# variables (NA stays NA).
api_columns <- function(df) {
  df$ell0 <- as.numeric(df$ell == 0)
  df$acs_big <- as.numeric(df$acs.k3 > 19)
  df[, c("stype", "sch.wide", "comp.imp", "awards", "yr.rnd", "api00", "api99", "enroll",
         "meals", "avg.ed", "acs.k3", "ell0", "acs_big", "pw")]
}

# The reference numbers every api case computes on its design.
api_records <- function(design) {
  out <- records_for(design, by = "stype",
                     means = c("api00", "api99", "meals", "avg.ed", "acs.k3"),
                     binaries = c("ell0", "acs_big"),
                     totals = c("enroll", "ell0"),
                     factors = c("sch.wide", "awards", "yr.rnd"))
  out <- c(out, records_for(design, factors = "stype"))
  out <- c(out, rec_chisq(design, "sch.wide", "stype"), rec_chisq(design, "comp.imp", "stype"),
           rec_chisq(design, "awards", "comp.imp"))
  out <- c(out, list(rec_diff(design, "api00", "stype", "E", "H"),
                     rec_diff(design, "sch.wide", "stype", "E", "M", category = "Yes"),
                     rec_diff(design, "avg.ed", "stype", "M", "H")))
  check_svyby(design, "api00", "stype")
  out
}

api_case <- function(case, design, description) {
  write_case(case, list(case = case, description = description, r_version = R.version.string,
                        survey_version = as.character(packageVersion("survey")),
                        data = design$variables,
                        design = design_description(design), records = api_records(design)))
}

# ---------------------------------------------------------------- a synthetic panel

# 800 panelists in five districts (one of them, Skog, with only 4), two genders
# and four age bands; a single-choice question (q_trygg, 7 % missing), a
# yes/no question (q_ja), a multiple-choice question as four 0/1 option
# columns (NA together for the 10 % who skipped it) and a 1-10 rating
# (q_betyg, 5 % missing). Base weights differ by district, as a recruitment
# with unequal invitation rates would give.
panel_data <- function() {
  set.seed(20261122)
  n <- 800
  district <- c(rep("Skog", 4), sample(c("Centrum", "Norr", "Soder", "Vaster"), n - 4, replace = TRUE,
                                       prob = c(0.35, 0.2, 0.25, 0.2)))
  gender <- sample(c("K", "M"), n, replace = TRUE, prob = c(0.55, 0.45))
  age_band <- sample(c("18-29", "30-49", "50-64", "65+"), n, replace = TRUE, prob = c(0.15, 0.3, 0.3, 0.25))
  old <- age_band %in% c("50-64", "65+")
  levels_trygg <- c("mycket_trygg", "ganska_trygg", "varken", "ganska_otrygg", "mycket_otrygg")
  p_trygg <- cbind(0.30 + 0.1 * old, 0.35, 0.15, 0.15 - 0.05 * old, 0.05 - 0.05 * old + 0.01)
  q_trygg <- apply(p_trygg, 1, function(p) sample(levels_trygg, 1, prob = p))
  q_trygg[runif(n) < 0.07] <- NA
  q_ja <- ifelse(runif(n) < ifelse(gender == "K", 0.62, 0.48), "ja", "nej")
  q_ja[runif(n) < 0.04] <- NA
  opt_park <- as.numeric(runif(n) < 0.55)
  opt_bibliotek <- as.numeric(runif(n) < ifelse(old, 0.45, 0.25))
  opt_gym <- as.numeric(runif(n) < ifelse(old, 0.10, 0.40))
  opt_ingen <- as.numeric(opt_park + opt_bibliotek + opt_gym == 0 & runif(n) < 0.8)
  skipped <- runif(n) < 0.10
  opt_park[skipped] <- NA; opt_bibliotek[skipped] <- NA; opt_gym[skipped] <- NA; opt_ingen[skipped] <- NA
  q_betyg <- pmin(10, pmax(1, round(rnorm(n, 6.5 + 0.8 * old, 2))))
  q_betyg[runif(n) < 0.05] <- NA
  base <- c(Skog = 250, Centrum = 60, Norr = 110, Soder = 80, Vaster = 95)[district]
  data.frame(district, gender, age_band, q_trygg, q_ja, opt_park, opt_bibliotek, opt_gym, opt_ingen,
             q_betyg, base_weight = unname(base), stringsAsFactors = FALSE)
}

panel_population <- function() {
  list(gender = data.frame(gender = c("K", "M"), Freq = c(35500, 34500)),
       age_band = data.frame(age_band = c("18-29", "30-49", "50-64", "65+"),
                             Freq = c(13000, 22000, 19000, 16000)),
       district = data.frame(district = c("Centrum", "Norr", "Skog", "Soder", "Vaster"),
                             Freq = c(18000, 17000, 1000, 19000, 15000)))
}

panel_records <- function(design) {
  out <- records_for(design, by = c("district", "gender", "age_band"),
                     means = "q_betyg",
                     binaries = c("opt_park", "opt_bibliotek", "opt_gym", "opt_ingen"),
                     totals = c("q_betyg", "opt_park"),
                     factors = c("q_trygg", "q_ja"))
  out <- c(out, rec_chisq(design, "q_trygg", "district"), rec_chisq(design, "q_ja", "gender"),
           rec_chisq(design, "q_trygg", "age_band"))
  out <- c(out, list(rec_diff(design, "q_betyg", "district", "Norr", "Soder"),
                     rec_diff(design, "q_ja", "district", "Centrum", "Vaster", category = "ja"),
                     rec_diff(design, "opt_park", "gender", "K", "M"),
                     rec_diff(design, "q_betyg", "age_band", "65+", "18-29")))
  check_svyby(design, "q_betyg", "district")
  out
}

panel_case <- function(case, design, description) {
  write_case(case, list(case = case, description = description, r_version = R.version.string,
                        survey_version = as.character(packageVersion("survey")),
                        data = design$variables,
                        design = design_description(design), records = panel_records(design)))
}
