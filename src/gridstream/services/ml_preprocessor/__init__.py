"""smart-ml-preprocessor: clean readings into feature vectors, per series in event-time order."""
