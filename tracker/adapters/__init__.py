"""The outside world: the job queue (huey), e-mail (SMTP), the process wiring (runtime) and the demo."""
