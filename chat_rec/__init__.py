"""chat-rec: a conversational, explainable recommender.

Layers (a module imports only from layers to its left; ``tests/unit/test_layering.py`` checks it, and that no
package has an import circle):

    config -> errors, files -> catalog, people -> datasets -> models, prompts -> recommender -> session
           -> dialogue -> agent -> assemble, scripting, training -> evaluation -> ui, cli

``recommender`` ranks; ``dialogue`` reads what each turn does (acts, people, rule-outs, the accumulated
request) and says the replies; ``agent`` is the turn loop over the two.

The UI talks to the agent, never to the ranking core. ``evaluation`` uses the public API (``Agent.read``,
``Agent.rank``, ``Agent.turn``); serving never imports it.
"""

__version__ = "0.1.0"
