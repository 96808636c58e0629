"""The UI-free core both front ends share (the Streamlit app, webapp/app.py, and the browser worker,
static/worker_glue.py): standard library, NumPy and ``mlp`` only, so it runs in Pyodide as well.

- :mod:`webapp.core.settings`   the one settings table (controls, defaults, ranges, the link rule)
- :mod:`webapp.core.playground` :class:`Playground`: data, runs, Train / Step / Stop / Resume / Reset, live frames
- :mod:`webapp.core.session`    the workflow as plain functions (prepare data, build, train, evaluate, figures)
- :mod:`webapp.core.charts`     Plotly figure dicts from arrays
- :mod:`webapp.core.links`      share links (settings and a small trained model in a URL)
- :mod:`webapp.core.explain`    "Explain a step": formulas with their numbers
"""
