# Reference values for analysis/ from R's survey package (an independent implementation).
#
# Run from the repository root:  Rscript tests/analysis/r/make_reference.R
# Writes tests/analysis/r/reference.csv and tests/analysis/r/wilson_reference.csv; the Python tests read
# these committed files and never call R. Computed with R 4.2.2 and survey 4.1.1.
#
# Every statistic is estimated on the subset design of its own respondents, the survey package's way of
# doing domain estimation (subset() keeps each stratum's PSU count from the full design):
#   criterion k       svymean(~s_k, subset(des, domain & v_k))           (= svyratio(~s_k, ~v_k))
#   element / overall svycontrast(svyratio(~s_a+s_b.., ~v_a+v_b.., covmat=TRUE), mean of the diagonal
#                     ratios) on subset(des, domain & at least one valid answer among the criteria)
#   mean score        svymean(~y_k, subset(des, domain & v_k))
#   comprehensive     svymean(~comp, subset(des, domain & any valid criterion))
#   separate items    svymean(~f_j, subset(des, domain & l_j))
# df = degf(subset design); deff = svymean(..., deff="replace"); intervals from svyciprop.
# R warns 15 times that qbeta() "is not accurate": those are the degenerate rows (all answers alike, an SE
# of ~1e-17 from rounding) that tests/analysis/test_r_reference.py leaves out of the interval comparison.

suppressPackageStartupMessages(library(survey))

root <- getwd()
data_dir <- file.path(root, "tests", "analysis", "data")
out_dir <- file.path(root, "tests", "analysis", "r")

criteria <- c("q1", "q2", "q3", "q4", "q5")
elements <- list(e1 = c("q1", "q2"), e2 = c("q3", "q4", "q5"))
element_weight <- c(e1 = 1, e2 = 2)
separate <- list(harass = list(codes = 1:3, favourable = 1), overall = list(codes = 1:5, favourable = 4:5))

prepare <- function(d) {
  for (k in criteria) {
    code <- d[[k]]
    valid <- !is.na(code) & code %in% 1:5
    d[[paste0("v_", k)]] <- as.numeric(valid)
    d[[paste0("s_", k)]] <- as.numeric(valid & code >= 4)
    d[[paste0("y_", k)]] <- ifelse(valid, code, 0)
  }
  v <- as.matrix(d[paste0("v_", criteria)])
  s <- as.matrix(d[paste0("s_", criteria)])
  d$anyvalid <- as.numeric(rowSums(v) > 0)
  d$comp <- as.numeric(rowSums(v) > 0 & rowSums(v * (1 - s)) == 0)
  for (e in names(elements)) d[[paste0("ev_", e)]] <- as.numeric(rowSums(v[, paste0("v_", elements[[e]]), drop = FALSE]) > 0)
  for (j in names(separate)) {
    code <- d[[j]]
    d[[paste0("l_", j)]] <- as.numeric(!is.na(code) & code %in% separate[[j]]$codes)
    d[[paste0("f_", j)]] <- as.numeric(!is.na(code) & code %in% separate[[j]]$favourable)
  }
  d
}

num <- function(x) if (length(x) == 0 || is.null(x)) NA_real_ else as.numeric(x)[1]
safe <- function(expr) tryCatch(expr, error = function(e) c(NA_real_, NA_real_))

row_for <- function(sub, est, se, deff, stat_type, stat, proportion) {
  w <- weights(sub)
  ci <- c(NA, NA, NA, NA, NA, NA)
  if (proportion && is.finite(est) && est > 0 && est < 1 && is.finite(se) && se > 0 && degf(sub) > 0) {
    f <- as.formula(paste0("~", stat))
    ci[1:2] <- safe(as.numeric(confint(svyciprop(f, sub, method = "logit"))))
    ci[3:4] <- safe(as.numeric(confint(svyciprop(f, sub, method = "beta"))))
  }
  if (is.finite(se) && degf(sub) > 0) ci[5:6] <- est + c(-1, 1) * qt(0.975, degf(sub)) * se
  data.frame(stat_type = stat_type, n = sum(w != 0), n_rows = nrow(sub), df = degf(sub), est = est, se = se,
             deff = deff, n_eff = sum(w)^2 / sum(w^2), ci_logit_lo = ci[1], ci_logit_hi = ci[2],
             ci_beta_lo = ci[3], ci_beta_hi = ci[4], ci_wald_lo = ci[5], ci_wald_hi = ci[6])
}

mean_row <- function(des, keep, var, stat_type, stat, proportion = TRUE) {
  if (!any(keep)) return(NULL)
  sub <- des[keep, ]
  m <- svymean(as.formula(paste0("~", var)), sub, deff = "replace")
  r <- row_for(sub, num(coef(m)), num(SE(m)), num(deff(m)), stat_type, var, proportion)
  r$stat <- stat
  r
}

composite_row <- function(des, d, keep, items, coefs, stat_type, stat) {
  if (!any(keep)) return(NULL)
  sub <- des[keep, ]
  defined <- items[sapply(items, function(k) sum(d[keep, paste0("v_", k)]) > 0)]
  a <- coefs[defined] / sum(coefs[defined])
  if (length(defined) == 0) return(NULL)
  r <- svyratio(as.formula(paste0("~", paste0("s_", defined, collapse = "+"))),
                as.formula(paste0("~", paste0("v_", defined, collapse = "+"))), sub, covmat = TRUE)
  names_all <- names(coef(r))
  weights_all <- setNames(rep(0, length(names_all)), names_all)
  weights_all[paste0("s_", defined, "/v_", defined)] <- a
  ct <- svycontrast(r, weights_all)
  out <- row_for(sub, num(coef(ct)), num(SE(ct)), NA_real_, stat_type, stat, FALSE)
  out$stat <- stat
  out
}

domain_rows <- function(des, d, keep) {
  rows <- list()
  for (k in criteria) {
    rows[[length(rows) + 1]] <- mean_row(des, keep & d[[paste0("v_", k)]] == 1, paste0("s_", k), "criterion", k)
    rows[[length(rows) + 1]] <- mean_row(des, keep & d[[paste0("v_", k)]] == 1, paste0("y_", k), "mean_score", k, FALSE)
  }
  for (e in names(elements)) {
    items <- elements[[e]]
    rows[[length(rows) + 1]] <- composite_row(des, d, keep & d[[paste0("ev_", e)]] == 1, items,
                                              setNames(rep(1, length(items)), items), "element", e)
  }
  # overall = sum_e omega_e mean_{k in e} p_k: coefficient of p_k is omega_e / m_e over defined items.
  any_keep <- keep & d$anyvalid == 1
  if (any(any_keep)) {
    defined <- criteria[sapply(criteria, function(k) sum(d[any_keep, paste0("v_", k)]) > 0)]
    coefs <- c()
    for (e in names(elements)) {
      de <- intersect(elements[[e]], defined)
      if (length(de)) coefs <- c(coefs, setNames(rep(element_weight[[e]] / length(de), length(de)), de))
    }
    rows[[length(rows) + 1]] <- composite_row(des, d, any_keep, names(coefs), coefs, "overall_index", "overall")
  }
  rows[[length(rows) + 1]] <- mean_row(des, keep & d$anyvalid == 1, "comp", "comprehensive", "comprehensive")
  for (j in names(separate)) {
    rows[[length(rows) + 1]] <- mean_row(des, keep & d[[paste0("l_", j)]] == 1, paste0("f_", j), "separate", j)
  }
  do.call(rbind, rows)
}

run <- function(name, des, d, domains, lonely) {
  options(survey.lonely.psu = lonely)
  out <- list()
  for (dom in domains) {
    r <- domain_rows(des, d, dom$keep)
    if (is.null(r)) next
    r$dataset <- name
    r$lonely_psu <- lonely
    r$domain <- dom$domain
    r$cut <- dom$cut
    out[[length(out) + 1]] <- r
  }
  do.call(rbind, out)
}

# ---- counters: strata = unit, respondents are PSUs, weights, a two-level hierarchy, field cuts
counters <- prepare(read.csv(file.path(data_dir, "counters.csv")))
parents <- read.csv(file.path(data_dir, "counters_parents.csv"))
ancestors <- function(u) { out <- c(); while (u %in% parents$unit) { u <- parents$parent[parents$unit == u]; out <- c(out, u) }; out }
nodes <- unique(c(counters$unit, parents$unit, parents$parent))
under <- lapply(nodes, function(node) unique(counters$unit[sapply(counters$unit, function(u) u == node || node %in% ancestors(u))]))
names(under) <- nodes
counter_domains <- list()
for (cut in c("", "land", "justice", "business")) {
  in_cut <- if (cut == "") rep(TRUE, nrow(counters)) else counters$field == cut
  for (node in c(nodes, "total")) {
    units <- if (node == "total") unique(counters$unit) else under[[node]]
    counter_domains[[length(counter_domains) + 1]] <- list(domain = node, cut = cut, keep = in_cut & counters$unit %in% units)
  }
}
des_counters <- svydesign(ids = ~1, strata = ~unit, weights = ~w, data = counters)
reference <- rbind(run("counters", des_counters, counters, counter_domains, "adjust"),
                   run("counters", des_counters, counters, counter_domains, "average"),
                   run("counters", des_counters, counters, counter_domains, "certainty"))

# ---- household: imported strata (district), clusters (village), fpc (villages in the district)
household <- prepare(read.csv(file.path(data_dir, "household.csv")))
household_domains <- list()
for (node in c(unique(household$commune), unique(household$zone), "total")) {
  keep <- if (node == "total") rep(TRUE, nrow(household)) else household$commune == node | household$zone == node
  household_domains[[length(household_domains) + 1]] <- list(domain = node, cut = "", keep = keep)
}
des_household <- svydesign(ids = ~village, strata = ~district, weights = ~w, fpc = ~fpc, nest = TRUE, data = household)
reference <- rbind(reference, run("household", des_household, household, household_domains, "fail"))
# The same respondents as a one-stage cluster sample without strata or fpc (one stratum, as in R).
des_clusters <- svydesign(ids = ~village, weights = ~w, data = household)
reference <- rbind(reference, run("household_clusters", des_clusters, household, household_domains, "fail"))

columns <- c("dataset", "lonely_psu", "domain", "cut", "stat_type", "stat", "n", "n_rows", "df", "est", "se",
             "deff", "n_eff", "ci_logit_lo", "ci_logit_hi", "ci_beta_lo", "ci_beta_hi", "ci_wald_lo", "ci_wald_hi")
reference <- reference[columns]
for (col in columns[-(1:6)]) reference[[col]] <- sprintf("%.17g", reference[[col]])
write.csv(reference, file.path(out_dir, "reference.csv"), row.names = FALSE, quote = TRUE)

# ---- Wilson: survey 4.1.1 has no svyciprop(method="wilson"); check the score interval itself against
# prop.test(correct=FALSE) (simple random sampling, normal quantile).
cases <- expand.grid(x = c(1, 7, 17, 45, 99), n = c(20, 50, 100))
cases <- cases[cases$x < cases$n, ]
bounds <- t(mapply(function(x, n) prop.test(x, n, correct = FALSE)$conf.int, cases$x, cases$n))
wilson <- data.frame(x = cases$x, n = cases$n, lo = sprintf("%.17g", bounds[, 1]), hi = sprintf("%.17g", bounds[, 2]))
write.csv(wilson, file.path(out_dir, "wilson_reference.csv"), row.names = FALSE)
cat("wrote", nrow(reference), "reference rows\n")
