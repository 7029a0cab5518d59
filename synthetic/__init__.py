"""Data made on purpose: the generator of `settle generate`, and the builders of data_samples/."""
