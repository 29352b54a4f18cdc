"""Design the design space: the RegNet paper's refinement loop as one procedure (`nas explore`)."""
