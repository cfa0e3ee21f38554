# Reference values for tests/analysis/test_weights.py, computed with R's survey package
# (Lumley, survey 4.1-1). Run from the repository root:
#     Rscript tests/analysis/r/weights_reference.R
# It writes tests/analysis/data/weights_reference{,_margins,_frame}.csv. The tests never call R; they
# read these files. The respondents are simulated here (set.seed) so inputs and outputs travel together.
suppressPackageStartupMessages(library(survey))
out <- "tests/analysis/data"
set.seed(20261123)
n <- 80
resp <- data.frame(
  id = seq_len(n),
  unit = sample(c("U1", "U2"), n, replace = TRUE, prob = c(0.6, 0.4)),
  field = sample(c("dat_dai", "ho_tich", "xay_dung"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2)),
  sex = sample(c("F", "M"), n, replace = TRUE),
  age = sample(c("18-34", "35-59", "60+"), n, replace = TRUE, prob = c(0.3, 0.5, 0.2)),
  base = round(runif(n, 0.5, 3), 3)
)

# --- raking: unequal base weights, three margins with a common total of 1000
margins <- list(
  sex = data.frame(sex = c("F", "M"), Freq = c(540, 460)),
  age = data.frame(age = c("18-34", "35-59", "60+"), Freq = c(280, 470, 250)),
  field = data.frame(field = c("dat_dai", "ho_tich", "xay_dung"), Freq = c(450, 350, 200))
)
d0 <- svydesign(ids = ~1, weights = ~base, data = resp)
raked <- rake(d0, list(~sex, ~age, ~field), margins,
              control = list(maxit = 500, epsilon = 1e-14))
resp$rake_w <- weights(raked)

# --- trimming the raked weights: one pass (strict = FALSE) and iterated (strict = TRUE)
upper <- 20
lower <- 6
resp$trim_one_pass <- weights(trimWeights(raked, upper = upper, lower = lower, strict = FALSE))
resp$trim_strict <- weights(trimWeights(raked, upper = upper, lower = lower, strict = TRUE))
# a tight cap that pushes untrimmed weights over it, so strict = TRUE needs several rounds
tight <- 14
resp$trim_tight_strict <- weights(trimWeights(raked, upper = tight, strict = TRUE))
resp$trim_tight_one_pass <- weights(trimWeights(raked, upper = tight, strict = FALSE))

# --- post-stratification to unit x field counts served (every cell has respondents)
frame <- data.frame(
  unit = rep(c("U1", "U2"), each = 3),
  field = rep(c("dat_dai", "ho_tich", "xay_dung"), 2),
  Freq = c(420, 210, 95, 260, 150, 65)
)
d1 <- svydesign(ids = ~1, probs = ~1, data = resp)
ps <- postStratify(d1, ~unit + field, frame)
resp$ps_w <- weights(ps)

write.csv(resp, file.path(out, "weights_reference.csv"), row.names = FALSE)
long <- do.call(rbind, lapply(names(margins), function(m) {
  data.frame(margin = m, category = margins[[m]][[m]], total = margins[[m]]$Freq)
}))
write.csv(long, file.path(out, "weights_reference_margins.csv"), row.names = FALSE)
names(frame)[names(frame) == "Freq"] <- "served"
write.csv(frame, file.path(out, "weights_reference_frame.csv"), row.names = FALSE)
cat(sprintf("trim bounds: upper = %g, lower = %g, tight = %g\n", upper, lower, tight))
