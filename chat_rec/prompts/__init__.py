"""The LLM prompts, as data (``importlib.resources``)."""
