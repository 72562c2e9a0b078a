"""The browser app: a thin Gradio shell over ``Agent.turn`` (layout and wiring in app.py, pure
rendering in render.py, end-user messages in messages.py). Gradio is imported only here."""
