"""VQ visualisation: codebook plots, the codebook-evolution video, explorer panels."""
