"""Exports of a survey's responses with weights: CSV, XLSX, SPSS .sav and a codebook.

``table`` builds the labelled table from a definition and the responses (no database),
``formats`` writes it, ``services`` reads a survey's responses and weights and logs
every export, ``views`` is the analyst's export page.
"""
