"""smart-model-trainer: training jobs, the retraining schedule and publishing to the model
registry."""
