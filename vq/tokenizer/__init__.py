"""The categorical tokenizer: feature tables grouped into categories (discovered or learned),
each with its own encoder, residual quantizer and decoder; tokens per category and level."""
