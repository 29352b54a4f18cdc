"""The sweep: plan the trials, run them through Ray Tune, store one row per trial, show progress."""
