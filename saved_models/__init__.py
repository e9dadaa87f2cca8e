"""Package data: the published weights and manifest.json (cnn_zoo.saved_models); nothing to import."""
