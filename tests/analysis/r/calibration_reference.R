# Reference values for the calibrated variances of analysis/calibration.py, from R's survey package.
#
# Run from the repository root:  Rscript tests/analysis/r/calibration_reference.R
# (R 4.2.2, survey 4.1.1; on Debian: apt-get install r-base-core r-cran-survey r-cran-mass.) The Python tests read
# the committed outputs and never call R:
#   tests/analysis/data/calibration_{respondents,frame,margins}.csv   simulated respondents and frames
#   tests/analysis/r/calibration_reference.csv                        estimates and SEs per design
# The statistics are those of make_reference.R (whose helper functions this script evaluates), on
# designs made by postStratify(), rake() and calibrate(); subset() of a calibrated design keeps every
# row with weight zero, so R linearizes each domain through the calibration of the whole sample.
#
# Two data sets:
#   * simulated respondents (set.seed below): six units under two parents, strata = unit, weights 1;
#   * R's own example data `api` (California Academic Performance Index, survey package documentation,
#     ?api: apiclus1 = cluster sample of 15 school districts, apistrat = sample stratified by school
#     type), with the calibrations of the examples in ?postStratify, ?rake and ?calibrate. Answer
#     codes 1-5 are cut from the API variables (see api_items) so that the index statistics apply.
suppressPackageStartupMessages(library(survey))

root <- getwd()
data_dir <- file.path(root, "tests", "analysis", "data")
out_dir <- file.path(root, "tests", "analysis", "r")

# The statistic helpers of make_reference.R (prepare, mean_row, composite_row, domain_rows, run, ...).
wanted <- c("criteria", "elements", "element_weight", "separate", "prepare", "num", "safe", "row_for",
            "mean_row", "composite_row", "domain_rows", "run")
for (e in parse(file.path(out_dir, "make_reference.R"))) {
  if (is.call(e) && identical(e[[1]], as.name("<-")) && is.name(e[[2]]) && as.character(e[[2]]) %in% wanted) eval(e)
}
# A statistic whose linearized variable is NaN in a domain (e.g. 0/0 where every answer is alike in a
# one-school domain) makes qr.resid() stop under calibrate(); such a statistic is left out of the
# reference instead of losing its whole domain.
mean_row_all <- mean_row
composite_row_all <- composite_row
mean_row <- function(...) tryCatch(mean_row_all(...), error = function(e) NULL)
composite_row <- function(...) tryCatch(composite_row_all(...), error = function(e) NULL)
# Calibrated subsets keep all rows: count the domain's respondents, not nrow(sub); no intervals needed.
row_for <- function(sub, est, se, deff, stat_type, stat, proportion) {
  w <- weights(sub)
  data.frame(stat_type = stat_type, n = sum(w != 0), df = degf(sub), est = est, se = se)
}

# ---- simulated respondents
set.seed(20261204)
n <- 600
units <- paste0("u", 1:6)
d <- data.frame(
  unit = sample(units, n, TRUE, prob = c(.25, .2, .15, .15, .15, .1)),
  field = sample(c("land", "justice", "business"), n, TRUE, prob = c(.5, .3, .2)),
  channel = sample(c("counter", "online"), n, TRUE, prob = c(.7, .3)),
  x = round(rgamma(n, 2, 0.5), 2)
)
happy <- 0.45 + 0.2 * (d$field == "land") - 0.15 * (d$channel == "online") + 0.04 * as.integer(substr(d$unit, 2, 2))
code <- function(p) {
  out <- ifelse(runif(n) < p, sample(4:5, n, TRUE), sample(1:3, n, TRUE))
  out[runif(n) < 0.08] <- 0            # not applicable
  out[runif(n) < 0.04] <- NA           # missing
  out
}
for (k in criteria) d[[k]] <- code(happy)
d$harass <- sample(1:3, n, TRUE, prob = c(.85, .1, .05))
d$overall <- code(happy)
write.csv(d, file.path(data_dir, "calibration_respondents.csv"), row.names = FALSE, na = "")

unit_total <- setNames(c(3000, 2200, 1500, 1800, 1400, 900), units)
field_share <- c(land = .45, justice = .35, business = .20)
channel_share <- c(counter = .75, online = .25)
frame <- expand.grid(unit = units, field = names(field_share), stringsAsFactors = FALSE)
frame$served <- round(unit_total[frame$unit] * field_share[frame$field] * runif(nrow(frame), 0.8, 1.2))
channels <- expand.grid(unit = units, channel = names(channel_share), stringsAsFactors = FALSE)
# unit x channel margins that add up to the same unit totals as the unit x field frame
field_sum <- tapply(frame$served, frame$unit, sum)
channels$served <- round(field_sum[channels$unit] * channel_share[channels$channel])
channels$served[channels$channel == "online"] <- field_sum[channels$unit[channels$channel == "online"]] -
  channels$served[channels$channel == "counter"]
write.csv(frame, file.path(data_dir, "calibration_frame.csv"), row.names = FALSE)
write.csv(channels, file.path(data_dir, "calibration_margins.csv"), row.names = FALSE)

d <- prepare(d)
parents <- c(u1 = "p1", u2 = "p1", u3 = "p1", u4 = "p2", u5 = "p2", u6 = "p2")
domains <- list()
for (cut in c("", "land", "justice", "business")) {
  in_cut <- if (cut == "") rep(TRUE, n) else d$field == cut
  for (node in c(units, "p1", "p2", "total")) {
    keep <- if (node == "total") TRUE else d$unit == node | parents[d$unit] == node
    domains[[length(domains) + 1]] <- list(domain = node, cut = cut, keep = in_cut & keep)
  }
}
d$one <- 1
base <- svydesign(ids = ~1, strata = ~unit, probs = ~one, data = d)
pop_field <- data.frame(unit = frame$unit, field = frame$field, Freq = frame$served)
pop_channel <- data.frame(unit = channels$unit, channel = channels$channel, Freq = channels$served)
pop_unit <- data.frame(unit = names(field_sum), Freq = as.vector(field_sum))
pop_online <- data.frame(channel = names(channel_share),
                         Freq = as.vector(tapply(channels$served, channels$channel, sum)[names(channel_share)]))
tight <- list(maxit = 200, epsilon = 1e-13)
designs <- list(
  ps_unit_field = postStratify(base, ~unit + field, pop_field),
  ps_unit = postStratify(base, ~unit, pop_unit),
  rake_nested = calibrate(base, list(~unit + field, ~unit + channel), population = list(pop_field, pop_channel),
                          calfun = "raking", epsilon = 1e-13, maxit = 200),
  rake_nested_ipf = rake(base, list(~unit + field, ~unit + channel), list(pop_field, pop_channel), control = tight),
  rake_crossed = calibrate(base, list(~unit, ~channel), population = list(pop_unit, pop_online),
                           calfun = "raking", epsilon = 1e-13, maxit = 200),
  rake_crossed_ipf = rake(base, list(~unit, ~channel), list(pop_unit, pop_online), control = tight),
  linear = calibrate(base, ~unit + x, population = c(`(Intercept)` = sum(field_sum),
                     setNames(as.vector(field_sum[units[-1]]), paste0("unit", units[-1])), x = 4.1 * sum(field_sum)),
                     calfun = "linear")
)
reference <- NULL
weights_out <- data.frame(row = seq_len(n))
for (name in names(designs)) {
  reference <- rbind(reference, run(name, designs[[name]], d, domains, "adjust"))
  weights_out[[name]] <- weights(designs[[name]])
}
write.csv(weights_out, file.path(data_dir, "calibration_weights.csv"), row.names = FALSE)

# ---- R's api data (survey package documentation, ?api)
data(api)
cut5 <- function(x, breaks) as.integer(cut(x, c(-Inf, breaks, Inf)))
api_items <- function(a) {
  a$q1 <- cut5(a$api00, c(500, 600, 700, 800))
  a$q2 <- cut5(a$api99, c(500, 600, 700, 800))
  a$q3 <- 6L - cut5(a$meals, c(20, 40, 60, 80))
  a$q4 <- 6L - cut5(a$ell, c(5, 15, 30, 50))
  a$q5 <- cut5(a$full, c(70, 80, 90, 95))
  a$harass <- ifelse(a$awards == "Yes", 1L, 2L)
  a$overall <- cut5(a$growth, c(0, 20, 40, 60))
  a
}
clus <- prepare(api_items(apiclus1))
strat <- prepare(api_items(apistrat))
keep_cols <- c("cds", "cname", "dnum", "stype", "sch.wide", "api99", "pw", "fpc", criteria, "harass", "overall")
write.csv(clus[keep_cols], file.path(data_dir, "calibration_apiclus1.csv"), row.names = FALSE)
write.csv(strat[keep_cols], file.path(data_dir, "calibration_apistrat.csv"), row.names = FALSE)

api_domains <- function(a, unit_col, cut_col) {
  out <- list()
  for (cut in c("", sort(unique(as.character(a[[cut_col]]))))) {
    in_cut <- if (cut == "") rep(TRUE, nrow(a)) else a[[cut_col]] == cut
    for (node in c(sort(unique(as.character(a[[unit_col]]))), "total")) {
      keep <- if (node == "total") TRUE else a[[unit_col]] == node
      out[[length(out) + 1]] <- list(domain = node, cut = cut, keep = in_cut & keep)
    }
  }
  out
}
# ?postStratify, ?rake, ?calibrate examples (population counts from the documentation)
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = clus, fpc = ~fpc)
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = strat, fpc = ~fpc)
api_designs <- list(
  apiclus1_ps = postStratify(dclus1, ~stype, pop.types),
  apiclus1_rake = calibrate(dclus1, list(~stype, ~sch.wide), population = list(pop.types, pop.schwide),
                            calfun = "raking", epsilon = 1e-13, maxit = 200),
  apiclus1_rake_ipf = rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide), control = tight),
  apiclus1_linear = calibrate(dclus1, ~stype + api99, c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018,
                                                        api99 = 3914069)),
  apistrat_ps = postStratify(dstrat, ~sch.wide, pop.schwide),
  apistrat_linear = calibrate(dstrat, ~api99, c(`(Intercept)` = 6194, api99 = 3914069))
)
for (name in names(api_designs)) {
  a <- if (startsWith(name, "apiclus1")) clus else strat
  doms <- if (startsWith(name, "apiclus1")) api_domains(a, "cname", "stype") else api_domains(a, "stype", "sch.wide")
  reference <- rbind(reference, run(name, api_designs[[name]], a, doms, "fail"))
}

columns <- c("dataset", "domain", "cut", "stat_type", "stat", "n", "df", "est", "se")
reference <- reference[columns]
for (col in c("est", "se")) reference[[col]] <- sprintf("%.17g", reference[[col]])
write.csv(reference, file.path(out_dir, "calibration_reference.csv"), row.names = FALSE, quote = TRUE)
cat("wrote", nrow(reference), "calibration reference rows\n")
