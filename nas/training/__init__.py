"""Training one network: data pipelines, augmentation and the training loop."""
