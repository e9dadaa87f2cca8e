"""Package data: the shipped recipe files (cnn_zoo.recipes); nothing to import."""
