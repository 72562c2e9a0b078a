"""chat-rec: a conversational, explainable recommender.

Layers (a module imports only from layers to its left; ``tests/unit/test_layering.py`` checks it):

    config -> errors -> catalog / datasets -> models / index -> recommender -> agent -> ui / cli

``evaluation`` sits beside serving and uses only the public API; serving never imports it.
"""

__version__ = "0.1.0"
