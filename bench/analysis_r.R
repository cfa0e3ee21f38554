# What R's `survey` package takes for the criterion indices of bench/analysis_cli.py's file: the same
# design (strata = units, each row its own PSU, the imported weights `w`, lonely strata "adjust"), the
# weighted share satisfied (codes 4-5) among valid answers (1-5; 0 = not applicable and blanks left
# out) of every criterion, with its linearized SE, in every unit, every parent and the total.
#
# Only the criterion indices: the element and overall indices would need each domain's covariance of
# its twenty ratios (svyby(..., covmat = TRUE) and svycontrast), so R's time here is a lower bound of
# what the whole table costs it. Run by `bench/analysis_cli.py --r`, which times this process and
# compares its figures with the command line's criterion rows.
#
# Usage: Rscript bench/analysis_r.R responses.csv out.csv

args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")

data <- read.csv(args[1])
criteria <- grep("^c[0-9]+$", names(data), value = TRUE)
for (k in criteria) {
  code <- data[[k]]
  valid <- !is.na(code) & code >= 1 & code <= 5
  data[[paste0("v_", k)]] <- as.numeric(valid)
  data[[paste0("s_", k)]] <- as.numeric(valid & code >= 4)
}
data$total <- "total"
design <- svydesign(ids = ~1, strata = ~unit, weights = ~w, data = data)

rows <- list()
for (level in c("unit", "parent", "total")) {
  for (k in criteria) {
    found <- svyby(as.formula(paste0("~s_", k)), as.formula(paste0("~", level)), design, svyratio,
                   denominator = as.formula(paste0("~v_", k)), covmat = FALSE)
    rows[[length(rows) + 1]] <- data.frame(domain = as.character(found[[level]]), stat = k,
                                           est = found[[2]], se = found[[3]])
  }
}
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
