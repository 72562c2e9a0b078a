"""The ranking core: intent reading, signals, fusion, explanations, feedback (DESIGN.md section 2)."""
