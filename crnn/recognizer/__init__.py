"""The CRNN recogniser: network, data, LightningModule, training, checkpoints, export."""
