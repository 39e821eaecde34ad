# R survey side of bench/weighting.py: Rscript weighting.R DIR SIZES ESTIMATE_N REPORT_N REPORT_QUESTIONS
#
# DIR holds the same synthetic municipality as the Python side, as raw binaries
# written by weighting.py: gender.bin, age.bin, district.bin (int8 codes),
# population.bin (2 x 7 x 12 doubles, C order), y.bin (doubles), answers.bin
# (int8, n x 40, C order). Every time is measured inside R with system.time()
# (elapsed), so reading the data and starting R are not counted. Prints one
# JSON document.
suppressMessages(library(survey))
library(jsonlite)
args <- commandArgs(TRUE)
dir <- args[1]
sizes <- as.integer(strsplit(args[2], ",")[[1]])
estimate_n <- as.integer(args[3])
report_n <- as.integer(args[4])
report_questions <- as.integer(args[5])

nmax <- file.size(file.path(dir, "gender.bin"))
read_codes <- function(name, n) readBin(file.path(dir, name), "integer", n = n, size = 1, signed = TRUE)
g_all <- read_codes("gender.bin", nmax)
a_all <- read_codes("age.bin", nmax)
d_all <- read_codes("district.bin", nmax)
y_all <- readBin(file.path(dir, "y.bin"), "double", n = nmax)
pop <- array(readBin(file.path(dir, "population.bin"), "double", n = 168), dim = c(12, 7, 2))  # [d, a, g]

GENDERS <- c("kvinna", "man")
AGES <- c("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
DISTRICTS <- sprintf("D%02d", 1:12)
pop_g <- data.frame(gender = factor(GENDERS, levels = GENDERS), Freq = apply(pop, 3, sum))
pop_a <- data.frame(age = factor(AGES, levels = AGES), Freq = apply(pop, 2, sum))
pop_d <- data.frame(district = factor(DISTRICTS, levels = DISTRICTS), Freq = apply(pop, 1, sum))
total <- sum(pop)
# calibrate() wants the model-matrix column totals of ~gender + age + district
pop_vector <- c(total, pop_g$Freq[-1], pop_a$Freq[-1], pop_d$Freq[-1])

frame_of <- function(n) {
  data.frame(gender = factor(GENDERS[g_all[1:n] + 1], levels = GENDERS),
             age = factor(AGES[a_all[1:n] + 1], levels = AGES),
             district = factor(DISTRICTS[d_all[1:n] + 1], levels = DISTRICTS),
             w0 = total / n, y = y_all[1:n])
}
margin_error <- function(w, df) {
  e <- c(abs(tapply(w, df$gender, sum) - pop_g$Freq) / pop_g$Freq,
         abs(tapply(w, df$age, sum) - pop_a$Freq) / pop_a$Freq,
         abs(tapply(w, df$district, sum) - pop_d$Freq) / pop_d$Freq)
  max(e)
}
timed <- function(f, repeats) {  # elapsed and CPU (user + system) seconds of each repeat
  times <- numeric(0)
  cpu <- numeric(0)
  value <- NULL
  for (i in seq_len(repeats)) {
    invisible(gc())
    t <- system.time(value <- f())
    times <- c(times, t[["elapsed"]])
    cpu <- c(cpu, t[["user.self"]] + t[["sys.self"]])
  }
  list(times = times, cpu = cpu, value = value)
}
do_rake <- function(des) {
  rake(des, list(~gender, ~age, ~district), list(pop_g, pop_a, pop_d),
       control = list(maxit = 100, epsilon = 1e-9))
}
do_calibrate <- function(des) {
  calibrate(des, ~gender + age + district, population = pop_vector, calfun = "raking")
}

out <- list(r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
            rake = list(), calibrate = list())
raked_at <- list()
for (n in sizes) {
  df <- frame_of(n)
  des <- svydesign(ids = ~1, weights = ~w0, data = df)
  repeats <- if (n >= 1e6) 2 else if (n >= 1e5) 3 else 5
  r <- timed(function() do_rake(des), repeats)
  out$rake[[length(out$rake) + 1]] <- list(n = n, times = r$times, cpu = r$cpu,
    max_margin_error = margin_error(weights(r$value), df), weights_head = unname(weights(r$value)[1:5]))
  c <- timed(function() do_calibrate(des), repeats)
  out$calibrate[[length(out$calibrate) + 1]] <- list(n = n, times = c$times, cpu = c$cpu,
    max_margin_error = margin_error(weights(c$value), df))
  if (n == estimate_n) raked_at$estimate <- r$value
  if (n == report_n) raked_at$report <- r$value
}

if (!is.null(raked_at$estimate)) {
  m <- timed(function() svymean(~y, raked_at$estimate), 3)
  out$svymean <- list(n = estimate_n, times = m$times, cpu = m$cpu, estimate = unname(coef(m$value)),
                      se = unname(SE(m$value)))
}

if (!is.null(raked_at$report)) {
  des <- raked_at$report
  answers <- matrix(readBin(file.path(dir, "answers.bin"), "integer", n = report_n * 40, size = 1, signed = TRUE),
                    ncol = 40, byrow = TRUE)
  for (j in 1:40) des$variables[[sprintf("q%d", j)]] <- factor(c("a", "b", "c", "d")[answers[, j] + 1],
                                                               levels = c("a", "b", "c", "d"))
  one_question <- function(j) {
    f <- as.formula(sprintf("~q%d", j))
    list(overall = svymean(f, des),
         district = svyby(f, ~district, des, svymean),
         gender = svyby(f, ~gender, des, svymean),
         age = svyby(f, ~age, des, svymean))
  }
  per_question <- numeric(0)
  per_question_cpu <- numeric(0)
  first <- NULL
  for (j in seq_len(report_questions)) {
    t <- system.time(res <- one_question(j))
    per_question <- c(per_question, t[["elapsed"]])
    per_question_cpu <- c(per_question_cpu, t[["user.self"]] + t[["sys.self"]])
    if (j == 1) first <- res
  }
  out$report <- list(n = report_n, questions_timed = report_questions, per_question = per_question,
                     per_question_cpu = per_question_cpu,
                     q1_overall = list(estimate = unname(coef(first$overall)), se = unname(SE(first$overall))),
                     q1_district = list(names = names(coef(first$district)), estimate = unname(coef(first$district)),
                                        se = unname(SE(first$district))))
}
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
cat("\n")
