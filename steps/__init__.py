"""Pipeline steps: one script per ClearML task. Each has `run(cfg, tracker, work_dir, **input_ids) -> outputs`
(called by the local runner and the tests) and `main()` (the command line an agent runs)."""
