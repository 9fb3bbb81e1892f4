"""Workflows built on runs: fine-tuning a finished run on new data, hyperparameter search, ensembles of runs
and their distillation.
"""
