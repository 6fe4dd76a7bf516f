"""Training side: tokenizer, streaming dataset over catalog versions, the model, DeepSpeed training."""
