"""The five-step pipeline: wiring shared by the ClearML PipelineController and the offline runner."""
