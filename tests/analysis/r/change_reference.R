# Reference values for analysis/period_contrast.py: the change between two quarters under one design
# over both, as R's svycontrast of the two periods' svyratio (survey 4.1.1, R 4.2.2).
#
# Run from the repository root:  Rscript tests/analysis/r/change_reference.R
# Writes tests/analysis/r/change_reference.csv from tests/analysis/data/counters.csv (2026Q1 vs 2026Q2,
# strata = unit, weights w, lonely PSUs "adjust"). Each statistic's numerators and denominators are the
# answers masked to the domain and the period; masking instead of subset() keeps every stratum's PSU
# count, which is R's domain convention.
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
root <- getwd()
d <- read.csv(file.path(root, "tests", "analysis", "data", "counters.csv"))
parents <- read.csv(file.path(root, "tests", "analysis", "data", "counters_parents.csv"))
criteria <- c("q1", "q2", "q3", "q4", "q5")
elements <- list(e1 = c("q1", "q2"), e2 = c("q3", "q4", "q5"))
element_weight <- c(e1 = 1, e2 = 2)
d$period <- ifelse(as.integer(substr(d$submitted, 6, 7)) <= 3, "2026Q1", "2026Q2")
for (k in criteria) {
  valid <- !is.na(d[[k]]) & d[[k]] %in% 1:5
  d[[paste0("v_", k)]] <- as.numeric(valid)
  d[[paste0("s_", k)]] <- as.numeric(valid & d[[k]] >= 4)
}
parent_of <- setNames(parents$parent, parents$unit)
ancestors <- function(u) { out <- c(); while (u %in% names(parent_of)) { u <- parent_of[[u]]; out <- c(out, u) }; out }
nodes <- c(unique(d$unit), unique(parents$parent), "total")
des <- svydesign(ids = ~1, strata = ~unit, weights = ~w, data = d)
out <- list()
for (node in nodes) {
  dom <- if (node == "total") rep(TRUE, nrow(d)) else sapply(d$unit, function(u) u == node || node %in% ancestors(u))
  for (t in c("2026Q2", "2026Q1")) {
    tag <- if (t == "2026Q2") "1" else "0"
    for (k in criteria) {
      d[[paste0("a_", k, "_", tag)]] <- d[[paste0("s_", k)]] * (dom & d$period == t)
      d[[paste0("b_", k, "_", tag)]] <- d[[paste0("v_", k)]] * (dom & d$period == t)
    }
  }
  des$variables <- d
  defined <- function(tag) criteria[sapply(criteria, function(k) sum(d[[paste0("b_", k, "_", tag)]]) > 0)]
  def1 <- defined("1"); def0 <- defined("0")
  both <- c(paste0(def1, "_1"), paste0(def0, "_0"))
  if (length(def1) == 0 || length(def0) == 0) next
  r <- svyratio(as.formula(paste0("~", paste0("a_", both, collapse = "+"))),
                as.formula(paste0("~", paste0("b_", both, collapse = "+"))), des, covmat = TRUE)
  ratio_name <- function(kt) paste0("a_", kt, "/b_", kt)
  contrast <- function(c1, c0) {
    w <- setNames(rep(0, length(coef(r))), names(coef(r)))
    if (length(c1)) w[ratio_name(paste0(names(c1), "_1"))] <- c1
    if (length(c0)) w[ratio_name(paste0(names(c0), "_0"))] <- w[ratio_name(paste0(names(c0), "_0"))] - c0
    ct <- svycontrast(r, w)
    c(as.numeric(coef(ct)), as.numeric(SE(ct)))
  }
  rows <- list()
  for (k in intersect(def1, def0)) {
    v <- contrast(setNames(1, k), setNames(1, k))
    rows[[length(rows) + 1]] <- data.frame(stat_type = "criterion", stat = k, diff = v[1], se = v[2])
  }
  element_coefs <- function(def, e) { de <- intersect(elements[[e]], def); setNames(rep(1 / length(de), length(de)), de) }
  for (e in names(elements)) {
    c1 <- element_coefs(def1, e); c0 <- element_coefs(def0, e)
    if (length(c1) && length(c0)) {
      v <- contrast(c1, c0)
      rows[[length(rows) + 1]] <- data.frame(stat_type = "element", stat = e, diff = v[1], se = v[2])
    }
  }
  overall_coefs <- function(def) {
    present <- names(elements)[sapply(names(elements), function(e) length(intersect(elements[[e]], def)) > 0)]
    omega <- element_weight[present] / sum(element_weight[present])
    unlist(lapply(present, function(e) element_coefs(def, e) * omega[[e]]))
  }
  v <- contrast(overall_coefs(def1), overall_coefs(def0))
  rows[[length(rows) + 1]] <- data.frame(stat_type = "overall_index", stat = "overall", diff = v[1], se = v[2])
  block <- do.call(rbind, rows)
  block$domain <- node
  out[[length(out) + 1]] <- block
}
reference <- do.call(rbind, out)[c("domain", "stat_type", "stat", "diff", "se")]
for (col in c("diff", "se")) reference[[col]] <- sprintf("%.17g", reference[[col]])
write.csv(reference, file.path(root, "tests", "analysis", "r", "change_reference.csv"), row.names = FALSE)
cat("wrote", nrow(reference), "change reference rows\n")
