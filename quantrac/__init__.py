"""quantrac: the composition root — CLI, HTTP API, service runners and the demo."""
