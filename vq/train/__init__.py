"""VQ in the trainer: criteria, bindings, codebook health and refresh handlers, held-out
metrics, the digits data and the experiment builder the examples use."""
