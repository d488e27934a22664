"""CTC search over streamed log-probs: greedy, prefix beam, endpointing (and S's grammar-constrained search)."""
