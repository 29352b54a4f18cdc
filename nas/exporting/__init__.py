"""Export: choose models, write and verify formats, keep weights, retrain a spec."""
