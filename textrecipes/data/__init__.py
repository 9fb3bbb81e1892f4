"""Stage 1, dataset files → records: readers for the five formats with ``file:line`` errors and a count of every
skipped line, train/validation/test splits, the default dataset's download, files larger than memory, derived data.
"""
