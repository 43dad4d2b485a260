"""InterHand2.6M: reading the release, `prepare` for training, and the per-sequence tools."""
