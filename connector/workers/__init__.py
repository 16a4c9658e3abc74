"""`order-sync worker` (issue 17): procrastinate workers on PostgreSQL sharing every pair's sync jobs.

app.py builds the procrastinate App from the settings (tasks, one periodic sync per pair), tasks.py
runs the jobs, jobs.py defers them and reads the queue, command.py is the CLI command.
"""
