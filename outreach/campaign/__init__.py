"""The campaign as code: schedules.yaml as an immutable model, each problem with its line."""
