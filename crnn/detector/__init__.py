"""The barcode detector: network, scene data, LightningModule, training and export."""
