"""Orchestration: fetch → skip if done → lock → dependencies → map → write → bind."""
