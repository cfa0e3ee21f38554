"""Hài Lòng analysis: SIPAS-style satisfaction indices, weights, variance and verdicts.

Pure statistics on arrays and DataFrames: never imports Flask, SQLAlchemy or `survey`.
"""
