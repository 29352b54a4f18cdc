"""The analysis defaults every entry point shares (Settings, nas.analyze, nas.refine, the CLI's
flags, the interval and trend functions), written once; plain numbers, so the CLI imports them
without numpy."""

SUBSAMPLE = 0.25  # share of the models each best-model bootstrap draw takes (pycls' get_filters)
LEVEL = 0.95  # confidence of bands and intervals; the KS tests' significance is 1 - LEVEL
# what the normalised EDF can equalise (memory: estimated training bytes, nas.analysis.frame.MEMORY);
# none skips it
MEASURES = ("flops", "params", "acts", "memory", "none")
