"""HTTP clients of the two platforms: transport, retries, pacing and typed models, nothing else."""
