"""The pipeline (recogniser, detector, photos): wiring shared by the PipelineController and the offline runner."""
