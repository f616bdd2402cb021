# Reference outputs of COINr 1.1.14 for citykb's conformance tests.
#
# Run with Debian's R and COINr installed from ../shared/vendor (see its README):
#   Rscript tests/conformance/coinr-asem/generate.R tests/conformance/coinr-asem/generated
# Every pipeline writes one folder: values.csv (dset, uCode, iCode, value: every data set
# COINr holds after the pipeline, numbers as %.17g so they parse to COINr's doubles),
# ranks.csv (uCode, iCode, rank = rank(-x, ties = "min", na.last = "keep") of the last data
# set) and, where a step reports them, removed_units.csv and treated.csv.
suppressMessages(library(COINr, lib.loc = file.path(Sys.getenv("HOME"), "rlib")))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "generated"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

num <- function(x) ifelse(is.na(x), "", sprintf("%.17g", x))

long <- function(df, dset, time = NULL) {
  codes <- setdiff(names(df), c("uCode", "Time"))
  codes <- codes[vapply(df[codes], is.numeric, logical(1))]
  rows <- lapply(codes, function(ic) data.frame(
    dset = dset, uCode = df$uCode, iCode = ic, value = num(df[[ic]])))
  r <- do.call(rbind, rows)
  if (!is.null(time)) r <- cbind(Time = time, r)
  r
}

ranks <- function(df, time = NULL) {
  codes <- setdiff(names(df), c("uCode", "Time"))
  codes <- codes[vapply(df[codes], is.numeric, logical(1))]
  rows <- lapply(codes, function(ic) data.frame(
    uCode = df$uCode, iCode = ic,
    rank = rank(-df[[ic]], ties.method = "min", na.last = "keep")))
  r <- do.call(rbind, rows)
  if (!is.null(time)) r <- cbind(Time = time, r)
  r
}

save <- function(name, coin, last = "Aggregated") {
  d <- file.path(out, name)
  dir.create(d, showWarnings = FALSE)
  sets <- names(coin$Data)
  # the raw data is the same in every pipeline: kept once, in the worked example
  if (name != "b_example") sets <- setdiff(sets, "Raw")
  v <- do.call(rbind, lapply(sets, function(s) long(coin$Data[[s]], s)))
  write.csv(v, file.path(d, "values.csv"), row.names = FALSE, na = "")
  r <- ranks(coin$Data[[last]])
  r$rank <- ifelse(is.na(r$rank), "", as.character(r$rank))
  write.csv(r, file.path(d, "ranks.csv"), row.names = FALSE, na = "")
  an <- coin$Analysis
  if (!is.null(an$Screened$RemovedUnits)) {
    write.csv(data.frame(uCode = an$Screened$RemovedUnits),
              file.path(d, "removed_units.csv"), row.names = FALSE)
  }
  if (!is.null(an$Treated$Treated_Points)) {
    tp <- an$Treated$Treated_Points
    codes <- names(tp)
    units <- coin$Data$Treated$uCode
    tr <- do.call(rbind, lapply(codes, function(ic) {
      k <- tp[[ic]] != ""
      if (!any(k)) return(NULL)
      data.frame(uCode = units[k], iCode = ic, treatment = tp[[ic]][k])
    }))
    write.csv(tr, file.path(d, "treated.csv"), row.names = FALSE)
  }
  cat(name, ":", paste(sets, collapse = " "), "\n")
}

base <- function() suppressMessages(
  new_coin(ASEM_iData, ASEM_iMeta, level_names = c("Indicator", "Pillar", "Sub-index", "Index")))
norm <- function(coin, f_n, para = NULL, dset = "Raw", ...) suppressMessages(
  Normalise(coin, dset = dset, global_specs = list(f_n = f_n, f_n_para = para), ...))
agg <- function(coin, f_ag = "a_amean", dset = "Normalised", ...) suppressMessages(
  Aggregate(coin, dset = dset, f_ag = f_ag, ...))

# (b) COINr's worked example: denominate, impute by group, screen, treat, min-max, mean
save("b_example", build_example_coin(quietly = TRUE))

# standard pipelines on the raw data
save("c_zscore_amean", agg(norm(base(), "n_zscore", list(m_sd = c(10, 2)))))
save("d_minmax1_gmean", agg(norm(base(), "n_minmax", list(l_u = c(1, 100))), "a_gmean"))
save("e_rank_amean", agg(norm(base(), "n_rank")))
save("f_minmax1_hmean", agg(norm(base(), "n_minmax", list(l_u = c(1, 100))), "a_hmean"))
save("g_borda_amean", agg(norm(base(), "n_borda")))
save("h_prank_amean", agg(norm(base(), "n_prank")))
save("i_dist2max_genmean", agg(norm(base(), "n_dist2max"), "a_genmean",
                               f_ag_para = list(p = 2)))
save("j_fracmax_amean", agg(norm(base(), "n_fracmax")))
save("k_rank_average_amean", agg(norm(base(), "n_rank", list(ties.method = "average"))))
# COINr 1.1.14's Aggregate() passes the data as `x`, a_copeland() names it `X`: a wrapper
a_copeland_x <- function(x, w = NULL) suppressMessages(a_copeland(x, w))
save("l_minmax_copeland", agg(norm(base(), "n_minmax"), "a_copeland_x", by_df = TRUE))
# imputation by column: mean, then median
save("m_mean_minmax_amean", agg(norm(suppressMessages(
  Impute(base(), dset = "Raw", f_i = "i_mean")), "n_minmax", dset = "Imputed")))
save("n_median_minmax_amean", agg(norm(suppressMessages(
  Impute(base(), dset = "Raw", f_i = "i_median")), "n_minmax", dset = "Imputed")))
# default treatment (winmax 5, then log) on the raw data
save("o_treat_minmax_amean", agg(norm(suppressMessages(
  Treat(base(), dset = "Raw")), "n_minmax", dset = "Treated")))
# unit screening on the raw data: units with less than 95% of their indicators are dropped
save("r_screen_minmax_amean", agg(norm(suppressMessages(
  Screen(base(), dset = "Raw", dat_thresh = 0.95, unit_screen = "byNA")), "n_minmax",
  dset = "Screened")))
# overrides: directions and weights for one run; at least half the children present
dirs <- ASEM_iMeta[ASEM_iMeta$Type == "Indicator", c("iCode", "Direction")]
dirs$Direction[dirs$iCode %in% c("Goods", "Services", "CO2")] <-
  -dirs$Direction[dirs$iCode %in% c("Goods", "Services", "CO2")]
w <- ASEM_iMeta[!is.na(ASEM_iMeta$Level), c("iCode", "Weight")]
w$Weight[w$iCode == "Conn"] <- 2
w$Weight[w$iCode == "LPI"] <- 0.5
w$Weight[w$iCode == "Instit"] <- 3
save("p_overrides_minmax_amean", agg(norm(base(), "n_minmax", directions = dirs),
                                     w = w, dat_thresh = 0.5))

# the panel: 2018-2022, min-max fixed over all years (global = TRUE), then each year's mean
purse <- suppressMessages(new_coin(ASEM_iData_p, ASEM_iMeta, split_to = "all",
                                   level_names = c("Indicator", "Pillar", "Sub-index", "Index")))
purse <- suppressMessages(Normalise(purse, dset = "Raw", global = TRUE))
purse <- suppressMessages(Aggregate(purse, dset = "Normalised"))
d <- file.path(out, "q_panel_global_minmax_amean")
dir.create(d, showWarnings = FALSE)
v <- do.call(rbind, lapply(seq_len(nrow(purse)), function(i) {
  coin <- purse$coin[[i]]
  do.call(rbind, lapply(names(coin$Data), function(s)
    long(coin$Data[[s]], s, time = purse$Time[i])))
}))
write.csv(v, file.path(d, "values.csv"), row.names = FALSE, na = "")
r <- do.call(rbind, lapply(seq_len(nrow(purse)), function(i)
  ranks(purse$coin[[i]]$Data$Aggregated, time = purse$Time[i])))
r$rank <- ifelse(is.na(r$rank), "", as.character(r$rank))
write.csv(r, file.path(d, "ranks.csv"), row.names = FALSE)
# the raw panel as COINr read it
write.csv(long(ASEM_iData_p[c("uCode", setdiff(names(ASEM_iData_p), c("uName", "uCode",
  "GDP_group", "GDPpc_group", "Pop_group", "EurAsia_group", "Time")))], "Raw",
  time = ASEM_iData_p$Time), file.path(d, "raw.csv"), row.names = FALSE, na = "")
cat("panel:", nrow(purse), "years\n")
cat("COINr", as.character(packageVersion("COINr", lib.loc = file.path(Sys.getenv("HOME"), "rlib"))), "\n")
