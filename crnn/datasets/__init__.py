"""Datasets: importers (tsv, coco, crops, synthetic) into one raw layout, and splitting and cropping."""
