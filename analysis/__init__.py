"""Pure survey statistics for Medborgarpanel.

Population targets from SCB files, weighting (post-stratification, raking,
calibration, trimming), representativeness and weighted estimates with
calibration-aware standard errors. Imports numpy, pandas, scipy and statsmodels
only: never Flask, SQLAlchemy, ``panel`` or ``surveys``.
"""
