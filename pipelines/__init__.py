"""Data, tokenization, metrics and the train/evaluate flows of sentibench."""
