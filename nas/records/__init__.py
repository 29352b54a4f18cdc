"""The run record: the results store, its typed rows and the weights kept beside them, which
sweeping writes and analysis, exporting and `nas results` read; it needs nothing above it."""
