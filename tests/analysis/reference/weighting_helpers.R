# Shared by the weighting_*.R reference scripts: write numbers with 17
# significant digits (jsonlite's digits=NA stops at 15, which is not enough for
# a 1e-8 comparison after the test's own arithmetic), data frames column-wise.
suppressPackageStartupMessages({library(survey); library(jsonlite)})

num <- function(x) {
  x <- as.numeric(x)
  structure(paste0("[", paste(ifelse(is.na(x), "null", sprintf("%.17g", x)), collapse = ","), "]"),
            class = "json")
}
scalar <- function(x) structure(sprintf("%.17g", as.numeric(x)), class = "json")
column <- function(x) if (is.numeric(x)) num(x) else as.character(x)
frame <- function(df) lapply(df, column)

# SE of svymean and svytotal of `vars` in `design`, and the estimates.
estimates <- function(design, vars) {
  out <- list()
  for (v in vars) {
    f <- as.formula(paste0("~", v))
    m <- svymean(f, design); t <- svytotal(f, design)
    out[[v]] <- list(mean = scalar(coef(m)), mean_se = scalar(SE(m)),
                     total = scalar(coef(t)), total_se = scalar(SE(t)))
  }
  out
}

write_case <- function(path, case) {
  writeLines(toJSON(case, json_verbatim = TRUE, auto_unbox = TRUE, pretty = TRUE), path)
}
