// Everything that imports Model sees the model's values too (TimbreModel, ModelConfig,
// EnvelopeTables, ModelError live in ModelCore, which the real-time core imports without
// Foundation).
@_exported import ModelCore
