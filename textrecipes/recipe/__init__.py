"""Recipe files: TOML validated against the defaults before anything runs, with every problem listed at once.
"""
