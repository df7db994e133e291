"""Plots: the data files and images exp.yaml declares, overlaid across experiments.

data.py reads one file into a table, collect.py picks the revisions and the
plots (revfiles.py reads their files) and builds charts (charts.py), svg.py
draws a chart (scales.py: axes, svgpaths.py: the series), page.py and
vega.py turn the charts into an HTML page or Vega-Lite specifications,
markdown.py into a Markdown summary, output.py writes them out.
"""
