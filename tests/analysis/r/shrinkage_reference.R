# Reference values for the Fay–Herriot tests in tests/analysis/test_shrinkage.py, computed with
# R's metafor package (Viechtbauer 2010): a Fay–Herriot model with known direct variances is the
# random-effects model that metafor::rma fits. Run from the repository root:
#     Rscript tests/analysis/r/shrinkage_reference.R
# It writes tests/analysis/data/shrinkage_reference.csv (inputs and per-unit outputs) and
# tests/analysis/data/shrinkage_reference_fit.csv (tau² = A, mu = beta and its se, for REML and ML).
# threshold: the Fisher-scoring stopping rule on tau² (metafor default 1e-5, too coarse here).
suppressPackageStartupMessages(library(metafor))
out <- "tests/analysis/data"
set.seed(20261123)
m <- 15
n <- sample(c(15, 25, 40, 80, 150, 300), m, replace = TRUE)
true_p <- plogis(rnorm(m, qlogis(0.85), 0.5))
x <- rbinom(m, n, true_p)
x <- pmin(pmax(x, 1), n - 1)  # keep 0 < p < 1: the logit needs it
p <- x / n
se <- sqrt(p * (1 - p) / n)
yi <- qlogis(p)
vi <- se^2 / (p * (1 - p))^2
units <- data.frame(unit = sprintf("u%02d", seq_len(m)), n = n, est = p, se = se, yi = yi, vi = vi)
fits <- list()
for (method in c("REML", "ML")) {
  fit <- rma(yi, vi, method = method, control = list(threshold = 1e-12, maxiter = 10000))
  b <- blup(fit)
  units[[paste0("blup_", method)]] <- b$pred
  units[[paste0("blup_se_", method)]] <- b$se
  fits[[method]] <- data.frame(method = method, tau2 = fit$tau2, mu = as.numeric(fit$beta), mu_se = fit$se)
}
write.csv(units, file.path(out, "shrinkage_reference.csv"), row.names = FALSE)
write.csv(do.call(rbind, fits), file.path(out, "shrinkage_reference_fit.csv"), row.names = FALSE)
print(do.call(rbind, fits))
