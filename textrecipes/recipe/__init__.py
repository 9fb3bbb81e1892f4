"""Recipes: the schema of every key (`schema`), the one validator it drives (`validation`), TOML in and out (`loading`),
and what is written from the schema: the README's key table and ``textrecipes recipe show|keys`` (`docs`, `command`).
"""
