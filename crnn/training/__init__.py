"""The Lightning kit both models share: trainer, schedule, checkpoint IO, backbones."""
