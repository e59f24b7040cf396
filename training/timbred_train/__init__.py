"""timbred's training pipeline: dataset rendering, features, the timbre-space DDSP model, export."""
