"""Teaching aids built on the model and the runs: the lessons and their links (``lessons``),
every lesson claim as a measurement (``claims``, ``claims_basics``, ``claims_practice``), the
dashboard's figures (``insight``), runs kept for comparison (``compare``), the step records as
text (``trace``) and the backprop page (``backprop_doc``). It may import the model, the runs and
everything below them; not the formats or the performance tools.
"""
